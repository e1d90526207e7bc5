"""The singles' seed sections: Jiande's events and demo profiles load, again safely, and bad
rows are reported with their lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import App
from storage.models.events import Event
from storage.models.singles import Profile
from storage.seed import SeedError, demo_files, import_file


async def import_paths(app: App, *paths: Path) -> None:
    async with app.sessions() as session, session.begin():
        for path in paths:
            await import_file(session, path)


async def test_demo_events_and_profiles_load_twice_without_duplicates(app: App) -> None:
    await import_paths(app, *demo_files())
    await import_paths(app, *demo_files())
    async with app.sessions() as session:
        events = list(await session.scalars(select(Event).order_by(Event.starts_at)))
        assert all("青荷对对·潮韵新安" in e.title for e in events) and len(events) == 3
        assert events[0].starts_at.isoformat() == "2026-12-20T06:00:00+00:00"
        assert events[0].places_women == 10 and events[-1].places_total == 40
        assert await session.scalar(select(func.count()).select_from(Profile)) == 4


async def test_bad_event_and_profile_rows_name_their_lines(app: App, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        """events:
  - title: 无时区的活动
    description: x
    place: 建德
    starts: 2026-12-20 14:00:00
    ends: 2026-12-20 17:00:00+08:00
    deadline: 2026-12-19 17:00:00+08:00
    places_total: 5
  - title: 名额两种都给
    description: x
    place: 建德
    starts: 2026-12-20 14:00:00+08:00
    ends: 2026-12-20 17:00:00+08:00
    deadline: 2026-12-19 17:00:00+08:00
    places_total: 5
    places_women: 2
    places_men: 2
profiles:
  - {name: nobody, display_name: 某, gender: f, birth_year: 1996, town: 建德,
     education: college, occupation: 工人, hobbies: [knitting], intro: 你好你好你好,
     seek_ages: [20, 30], contact: "13800000000"}
""",
        encoding="utf-8",
    )
    with pytest.raises(SeedError) as error:
        await import_paths(app, bad)
    problems = "\n".join(error.value.errors)
    assert "line 2: starts" in problems
    assert "line 9" in problems and "places_total" in problems
    assert "line 19: hobbies" in problems
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 0


async def test_a_profile_for_an_unknown_member_is_refused(app: App, tmp_path: Path) -> None:
    bad = tmp_path / "profiles.yaml"
    bad.write_text(
        """profiles:
  - {name: nobody, display_name: 某, gender: f, birth_year: 1996, town: 建德,
     education: college, occupation: 工人, hobbies: [music], intro: 你好你好你好,
     seek_ages: [20, 30], contact: "13800000000"}
""",
        encoding="utf-8",
    )
    with pytest.raises(SeedError) as error:
        await import_paths(app, bad)
    assert error.value.errors == ["line 2: unknown member 'nobody'"]
