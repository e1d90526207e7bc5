"""The ``bargaining:`` seed section: idempotent demo sessions, and bad rows reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import App
from storage.models.bargaining import Ballot, BargainingSession, Follower, StepTransition
from storage.seed import SeedError, demo_files, import_file


async def counts(app: App) -> list[int]:
    async with app.sessions() as session:
        return [
            await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (BargainingSession, Follower, Ballot, StepTransition)
        ]


async def load(app: App, *paths: Path) -> None:
    async with app.sessions() as session, session.begin():
        for path in paths:
            await import_file(session, path)


async def test_the_demo_sessions_load_once_however_often_they_are_imported(app: App) -> None:
    await load(app, *demo_files())
    first = await counts(app)
    await load(app, *demo_files())
    assert await counts(app) == first
    async with app.sessions() as session:
        past = await session.scalar(
            select(BargainingSession).where(BargainingSession.code == "ZCWJ26")
        )
        assert past is not None and past.step == 11 and past.finished_at is not None
        congress = await session.scalar(select(Ballot).where(Ballot.session_id == past.id))
        assert congress is not None and congress.passed is True


async def test_a_session_naming_unknown_people_imports_nothing(app: App, tmp_path: Path) -> None:
    await load(app, demo_files()[0])
    path = tmp_path / "bargaining.yaml"
    path.write_text(
        "bargaining:\n"
        "  - {code: ABCDEF, enterprise: 浙江顺虎铝业有限公司, title: 协商, year: 2027, step: 2,\n"
        "     followers: [nobody]}\n"
        "  - {code: abc, enterprise: 无名公司, title: 协商, year: 2027, step: 12}\n",
        encoding="utf-8",
    )
    with pytest.raises(SeedError) as error:
        await load(app, path)
    assert any(problem.startswith("line 4: code") for problem in error.value.errors)
    assert any(problem.startswith("line 4: step") for problem in error.value.errors)
    path.write_text(
        "bargaining:\n"
        "  - {code: ABCDEF, enterprise: 浙江顺虎铝业有限公司, title: 协商, year: 2027, step: 2,\n"
        "     followers: [nobody]}\n",
        encoding="utf-8",
    )
    with pytest.raises(SeedError) as unknown:
        await load(app, path)
    assert unknown.value.errors == ["line 2: unknown member 'nobody'"]
    assert (await counts(app))[0] == 0
