"""WeChat's sending limits per member, kept as a ledger the channel consults before each send.

WeChat's rules for service accounts (since June 2023): after a member's message the account
may send that member 5 customer-service messages within 48 hours; after a menu click, a
follow or a QR scan, 3 within 1 minute; a follower receives at most 4 mass sends a month;
template messages have a daily quota for the whole account. The ledger holds one row per
WeChat identity (made when first needed) and one row per day for the account's template
messages, so the bot never makes a call WeChat would refuse for quota.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.core import Base


class WechatQuota(Base):
    """One WeChat identity's allowances.

    ``window_start`` is the member's message that opened the 48-hour window being counted
    (``window_used`` of its 5 spent); ``event_at`` the menu click, follow or scan that
    opened the 1-minute allowance (``event_used`` of 3). ``mass_month`` is the Asia/Shanghai
    month as YYYYMM with ``mass_used`` of its 4 mass sends; ``template_day`` the
    Asia/Shanghai day with ``template_used`` template messages sent to this member.
    """

    __tablename__ = "wechat_quotas"

    identity_id: Mapped[int] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), primary_key=True
    )
    window_start: Mapped[datetime | None]
    window_used: Mapped[int] = mapped_column(default=0)
    event_at: Mapped[datetime | None]
    event_used: Mapped[int] = mapped_column(default=0)
    mass_month: Mapped[int] = mapped_column(default=0)
    mass_used: Mapped[int] = mapped_column(default=0)
    template_day: Mapped[date | None]
    template_used: Mapped[int] = mapped_column(default=0)


class WechatTemplateDay(Base):
    """Template messages the account sent on one Asia/Shanghai day (WeChat's daily quota
    counts per account, not per member)."""

    __tablename__ = "wechat_template_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    used: Mapped[int] = mapped_column(default=0)
