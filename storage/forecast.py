"""How a notice will travel, counted by the database before an officer confirms it.

Each member of the audience is counted under the route their message would take now: on
WeChat by mass send while they have one left this month, else by customer-service message
inside the 48 hours after their last message, else by template (when one is configured,
while the day's template quota lasts), else into their inbox; an urgent notice skips the
mass send and tries the template first. Then Telegram, and any other channel (the
console) or none. One query of ``COUNT`` s; no member id is read. It is a forecast
("about"): a member may write, or move, before the message goes, and which members an
urgent notice's templates run out on is not known before.

Finding each member's preferred identity costs an index probe per member (8.5 s for
1,000,000 on PostgreSQL), so an audience larger than :data:`SAMPLE` is forecast from every
k-th member by id and scaled to its size; the officer's count of recipients stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import members, wechat_quota
from storage.models import Identity, Member
from storage.models.wechat_quota import WechatQuota, WechatTemplateDay
from storage.wechat_mass import mass_left

SAMPLE = 20_000
"""Audiences up to this size are counted member by member; larger ones are sampled."""


@dataclass(frozen=True)
class Forecast:
    mass: int
    customer_service: int
    template: int
    inbox: int
    telegram: int
    other: int


async def forecast(
    session: AsyncSession,
    condition: ColumnElement[bool],
    size: int,
    now: datetime,
    *,
    template_quota: int | None,
    urgent: bool = False,
) -> Forecast:
    """The ``size`` members matching ``condition`` by the route a broadcast would take
    now; ``template_quota``: the account's daily template quota, None when no template
    is configured."""
    step = -(-size // SAMPLE)
    if step > 1:
        condition = and_(condition, Member.id % step == 0)
    preferred = members.preferred_identity_column(Member.id, Member)
    wechat = Identity.channel == "wechat"
    mass = false() if urgent else and_(wechat, mass_left(wechat_quota.month_of(now)))
    window = and_(
        wechat,
        not_(mass),
        Identity.last_seen_at > now - wechat_quota.WINDOW,
        or_(
            WechatQuota.identity_id.is_(None),
            WechatQuota.window_start.is_(None),
            WechatQuota.window_start < Identity.last_seen_at,
            WechatQuota.window_used < wechat_quota.WINDOW_SENDS,
        ),
    )
    rest = and_(wechat, not_(mass), not_(window))
    elsewhere = or_(Identity.id.is_(None), Identity.channel.not_in(["wechat", "telegram"]))
    query = (
        select(
            func.count().filter(mass),
            func.count().filter(window),
            func.count().filter(rest),
            func.count().filter(Identity.channel == "telegram"),
            func.count().filter(elsewhere),
        )
        .select_from(Member)
        .outerjoin(Identity, Identity.id == preferred)
        .outerjoin(WechatQuota, WechatQuota.identity_id == Identity.id)
        .where(condition)
    )
    found = [int(n or 0) for n in (await session.execute(query)).one()]
    counted = sum(found)
    if step > 1 and counted:
        found = [round(n * size / counted) for n in found]
    by_mass, by_window, others, telegram, rest_of_them = found
    left = 0
    if template_quota is not None:
        used = await session.scalar(
            select(WechatTemplateDay.used).where(WechatTemplateDay.day == wechat_quota.day_of(now))
        )
        left = max(0, template_quota - (used or 0))
    if not urgent:
        by_template = min(others, left)
        return Forecast(
            by_mass, by_window, by_template, others - by_template, telegram, rest_of_them
        )
    on_wechat = by_window + others
    by_template = min(on_wechat, left)
    after = on_wechat - by_template
    in_window = round(after * by_window / on_wechat) if on_wechat else 0
    return Forecast(0, in_window, by_template, after - in_window, telegram, rest_of_them)
