"""Importing the alliance catalogue, other benefits, the model-worker register and unit
staff: idempotent, line-numbered errors, nothing imported on error, no raw ID numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import App
from storage import members
from storage.models import Role
from storage.models.benefits import ModelWorker, OtherBenefit, PartnerUnit, UnitService
from storage.seed import SeedError, demo_files, import_file


async def import_paths(app: App, *paths: Path) -> None:
    async with app.sessions() as session, session.begin():
        for path in paths:
            await import_file(session, path)


async def count(app: App, model: type) -> int:
    async with app.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_the_demo_alliance_has_22_units_and_loads_twice_the_same(app: App) -> None:
    await import_paths(app, *demo_files())
    counts = [await count(app, m) for m in (PartnerUnit, UnitService, OtherBenefit, ModelWorker)]
    assert counts[0] == 22 and counts[2] == 7 and counts[3] == 4
    await import_paths(app, *demo_files())
    assert [
        await count(app, m) for m in (PartnerUnit, UnitService, OtherBenefit, ModelWorker)
    ] == counts
    async with app.sessions() as session:
        staff = await members.find_member(session, "hospital")
        unit = await session.scalar(select(PartnerUnit).where(PartnerUnit.name.like("%第一医院")))
        assert staff is not None and unit is not None
        assert await members.role_grants(session, staff.id) == [(Role.UNIT_STAFF, str(unit.id))]
        hashes = list(await session.scalars(select(ModelWorker.id_hash)))
        assert all(len(h) == 64 and "999999" not in h for h in hashes)


async def test_bad_rows_are_reported_by_line_and_nothing_is_imported(
    app: App, tmp_path: Path
) -> None:
    path = tmp_path / "alliance.yaml"
    path.write_text(
        "units:\n"
        "  - {name: 好医院, category: medical, city: 温州, address: 某路1号}\n"
        "  - {name: 坏单位, category: spaceship, city: 温州, address: 某路2号}\n"
        "  - name: 半坐标\n"
        "    category: dining\n"
        "    city: 温州\n"
        "    address: 某路3号\n"
        "    latitude: 28.0\n"
        "  - name: 错日期\n"
        "    category: travel\n"
        "    city: 温州\n"
        "    address: 某路4号\n"
        "    services:\n"
        "      - {what: 免票, kind: price, valid_from: 2024-02-01, valid_until: 2024-01-01}\n"
        "model_workers:\n"
        "  - {name: 张三, level: city, city: 温州, year: 2020, id_number: '12345'}\n"
        "  - {name: 李四, level: mayor, city: 温州, year: 2020, id_number: '999999198001010011'}\n",
        encoding="utf-8",
    )
    with pytest.raises(SeedError) as error:
        await import_paths(app, path)
    problems = "\n".join(error.value.errors)
    assert "line 3: category" in problems
    assert "line 4:" in problems and "latitude and longitude" in problems
    assert "line 9:" in problems and "valid_until is before valid_from" in problems
    assert "line 16: id_number" in problems and "12345" not in problems
    assert "line 17: level" in problems
    assert await count(app, PartnerUnit) == 0


async def test_references_to_unknown_units_and_members_and_duplicate_ids(
    app: App, tmp_path: Path
) -> None:
    path = tmp_path / "more.yaml"
    path.write_text(
        "units:\n"
        "  - {name: 好医院, category: medical, city: 温州, address: 某路1号}\n"
        "services:\n"
        "  - {unit: 好医院, what: 挂号优先, kind: priority, valid_from: 2024-01-01}\n"
        "  - {unit: 无此单位, what: 挂号优先, kind: priority, valid_from: 2024-01-01}\n"
        "model_workers:\n"
        "  - {name: 张三, level: city, city: 温州, year: 2020, id_number: '999999198001010011'}\n"
        "  - {name: 张叁, level: city, city: 温州, year: 2020, id_number: '999999198001010011'}\n"
        "unit_staff:\n"
        "  - {member: nobody, unit: 好医院}\n"
        "  - {member: nobody, unit: 无此单位}\n",
        encoding="utf-8",
    )
    with pytest.raises(SeedError) as error:
        await import_paths(app, path)
    assert error.value.errors == [
        "line 5: unknown unit '无此单位'",
        "line 8: the same id_number as line 7",
        "line 10: unknown member 'nobody'",
        "line 11: unknown member 'nobody'",
    ]
    assert await count(app, PartnerUnit) == 0


async def test_services_can_come_from_a_csv_file(app: App, tmp_path: Path) -> None:
    units = tmp_path / "units.csv"
    units.write_text(
        "name,category,city,address,latitude,longitude\n好医院,medical,温州,某路1号,28.0,120.6\n",
        encoding="utf-8",
    )
    services = tmp_path / "services.csv"
    services.write_text(
        "unit,what,kind,level,valid_from,valid_until\n"
        "好医院,挂号优先,priority,provincial,2024-01-01,\n"
        "好医院,体检九折,price,city,2024-01-01,2025-12-31\n",
        encoding="utf-8",
    )
    await import_paths(app, units, services)
    async with app.sessions() as session:
        rows = (await session.execute(select(UnitService.what, UnitService.min_level))).all()
    assert sorted(rows) == [("体检九折", "city"), ("挂号优先", "provincial")]
