"""Audiences: who a notice goes to. Everyone, a town, an enterprise, a language; an unknown
audience reaches no one; services add their own and cannot take a name twice."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot import audience
from bot.app import App
from storage.core_seed import CONSOLE
from storage.models import Enterprise, Identity, Member
from storage.seed import DEMO_DIR, import_file


async def names(app: App, name: str, value: str) -> list[str]:
    async with app.sessions() as session:
        ids = await audience.resolve(session, name, value)
        rows = await session.scalars(
            select(Identity.external_id)
            .where(Identity.member_id.in_(ids), Identity.channel == CONSOLE)
            .order_by(Identity.external_id)
        )
        return list(rows)


async def test_the_built_in_audiences(app: App) -> None:
    async with app.sessions() as session, session.begin():
        await import_file(session, DEMO_DIR / "00_core.yaml")
        enterprise = await session.scalar(
            select(Enterprise.id).where(Enterprise.name == "浙江顺虎铝业有限公司")
        )
    everyone = await names(app, "all", "")
    async with app.sessions() as session:
        console_names = await session.scalars(
            select(Identity.external_id).where(Identity.channel == CONSOLE)
        )
        assert everyone == sorted(console_names)
    assert await names(app, "town", "永康") == ["chair", "employer", "xiaozhang"]
    assert await names(app, "town", "坎墩街道") == ["amy"]
    assert await names(app, "town", "火星") == []
    assert await names(app, "enterprise", str(enterprise)) == ["chair", "employer", "xiaozhang"]
    assert await names(app, "enterprise", "x") == []
    assert await names(app, "language", "en") == ["amy"]
    assert await names(app, "nobody", "") == []


async def test_the_form_offers_every_audience_with_a_label(app: App) -> None:
    async with app.sessions() as session, session.begin():
        session.add(Member(display_name="x", language="zh_CN", town="逍林镇"))
    t = app.dispatcher.translations["zh_CN"]
    async with app.sessions() as session:
        offered = dict(await audience.choices(session, t))
    assert offered["all:"] == "全体会员"
    assert offered["town:逍林镇"] == "逍林镇的会员"
    assert offered["language:en"] == "用英文的会员"


def test_a_service_registers_its_own_audience_once() -> None:
    async def nobody(*_: object) -> list[int]:
        return []

    async def no_choices(*_: object) -> list[tuple[str, str]]:
        return []

    async def label(*_: object) -> str:
        return "-"

    custom = audience.Audience(no_choices, nobody, label)
    audience.register_audience("test_only", custom)
    with pytest.raises(ValueError, match="taken"):
        audience.register_audience("test_only", custom)
    with pytest.raises(ValueError, match="colon"):
        audience.register_audience("a:b", custom)
    del audience.AUDIENCES["test_only"]
