"""The route forecast an officer sees before confirming a notice: exact for an audience
up to ``SAMPLE`` members, sampled and scaled beyond, so it stays fast at 1,000,000."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, true

from bot.app import App
from storage import forecast as forecasting
from storage.members import create_member
from storage.models import Member
from storage.types import utcnow


async def add_members(app: App, telegram: int, wechat: int) -> int:
    async with app.sessions() as session, session.begin():
        for number in range(telegram):
            await create_member(session, "telegram", f"t{number}", "会员", "zh_CN")
        for number in range(wechat):
            await create_member(session, "wechat", f"o{number}", "会员", "zh_CN")
        return int(await session.scalar(select(func.count()).select_from(Member)) or 0)


async def routes(app: App, size: int) -> forecasting.Forecast:
    async with app.sessions() as session:
        return await forecasting.forecast(session, true(), size, utcnow(), template_quota=None)


async def test_a_small_audience_is_counted_member_by_member(app: App) -> None:
    size = await add_members(app, telegram=6, wechat=4)
    found = await routes(app, size)
    assert (found.telegram, found.mass) == (6, 4)


async def test_a_large_audience_sampled_still_adds_up_to_its_size_in_the_right_shares(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = await add_members(app, telegram=300, wechat=200)
    monkeypatch.setattr(forecasting, "SAMPLE", 50)
    found = await routes(app, size)
    assert found.telegram + found.mass == size
    assert 270 <= found.telegram <= 330 and 170 <= found.mass <= 230
