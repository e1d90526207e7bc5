"""Importing YAML and CSV: the demo data, idempotency, and files with errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import App
from storage import members
from storage.models import Enterprise, Member, Role
from storage.seed import SeedError, demo_files, import_file


async def import_paths(app: App, *paths: Path) -> list[dict[str, int]]:
    async with app.sessions() as session, session.begin():
        return [await import_file(session, path) for path in paths]


async def count(app: App, model: type) -> int:
    async with app.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_demo_data_loads_and_loading_it_again_changes_nothing(app: App) -> None:
    await import_paths(app, *demo_files())
    enterprises, people = await count(app, Enterprise), await count(app, Member)
    await import_paths(app, *demo_files())
    assert (await count(app, Enterprise), await count(app, Member)) == (enterprises, people)
    async with app.sessions() as session:
        chair = await members.find_member(session, "chair")
        assert chair is not None
        shunhu = await session.scalar(select(Enterprise).where(Enterprise.name.like("%顺虎%")))
        assert shunhu is not None
        assert await members.role_grants(session, chair.id) == [(Role.CHAIR, str(shunhu.id))]


async def test_every_bad_row_is_reported_with_its_line_and_nothing_is_imported(
    app: App, tmp_path: Path
) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(
        "enterprises:\n"
        "  - {name: 好公司, city: 杭州}\n"
        "members:\n"
        "  - {name: a, display_name: 甲}\n"
        "  - {name: b}\n"
        "  - name: c\n"
        "    display_name: 丙\n"
        "    roles: [{role: boss}]\n"
        "  - {name: d, display_name: 丁, enterprise: 不存在公司}\n",
        encoding="utf-8",
    )
    with pytest.raises(SeedError) as raised:
        await import_paths(app, path)
    assert raised.value.errors[0].startswith("line 5: display_name")
    assert raised.value.errors[1].startswith("line 6: roles.0.role")
    assert await count(app, Enterprise) == 0 and await count(app, Member) == 0


async def test_rows_that_refer_to_unknown_things_import_nothing(app: App, tmp_path: Path) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(
        "enterprises:\n  - {name: 好公司, city: 杭州}\n"
        "members:\n  - {name: d, display_name: 丁, enterprise: 不存在公司}\n",
        encoding="utf-8",
    )
    with pytest.raises(SeedError) as raised:
        await import_paths(app, path)
    assert raised.value.errors == ["line 4: unknown enterprise '不存在公司'"]
    assert await count(app, Enterprise) == 0


async def test_invalid_utf8_is_reported_with_its_line(app: App, tmp_path: Path) -> None:
    path = tmp_path / "enterprises.csv"
    path.write_bytes("name,city\n好公司,杭州\n".encode() + b"\xff\xfe,x\n")
    with pytest.raises(SeedError) as raised:
        await import_paths(app, path)
    assert raised.value.errors[0].startswith("line 3: not valid UTF-8")


async def test_csv_file_names_its_section(app: App, tmp_path: Path) -> None:
    path = tmp_path / "enterprises.csv"
    path.write_text("name,city,town\n好公司,慈溪,逍林镇\n坏公司,\n", encoding="utf-8")
    with pytest.raises(SeedError) as raised:
        await import_paths(app, path)
    assert raised.value.errors[0].startswith("line 3: city")
    path.write_text("name,city,town\n好公司,慈溪,逍林镇\n新公司,杭州,\n", encoding="utf-8")
    assert await import_paths(app, path) == [{"enterprises": 2}]


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("x.yaml", "members: [", "not valid YAML"),
        ("x.yaml", "- just a list", "expected a mapping"),
        ("x.yaml", "dragons: []", "unknown section 'dragons'"),
        ("x.yaml", "members: 3", "expected a list of rows"),
        ("x.txt", "hello", "unknown file type"),
    ],
)
async def test_malformed_files_are_refused(
    app: App, tmp_path: Path, name: str, content: str, error: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SeedError, match=error):
        await import_paths(app, path)
