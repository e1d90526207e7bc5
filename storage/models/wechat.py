"""WeChat's own tables: delivered-once message keys, the shared access token, each
member's numbered choices, the inbox of messages that could not be pushed, and the mass
sends of broadcasts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.core import Base
from storage.types import utcnow


class WechatSeenMessage(Base):
    """A webhook message already taken (by MsgId, or sender+time+event for events).

    The primary key makes a retry that reaches another process or instance fail to insert,
    so its handler never runs twice.
    """

    __tablename__ = "wechat_seen_messages"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class WechatToken(Base):
    """The account's access_token, fetched by one process and used by all."""

    __tablename__ = "wechat_tokens"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token: Mapped[str] = mapped_column(String(600), default="")
    expires_at: Mapped[datetime]


class WechatChoices(Base):
    """The buttons last shown to a WeChat user as numbered options, so "1" presses one."""

    __tablename__ = "wechat_choices"

    openid: Mapped[str] = mapped_column(String(128), primary_key=True)
    payloads: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WechatInboxMessage(Base):
    """A message WeChat would not take (outside the 48-hour window, over a limit...).

    It waits here until the member writes again and asks for it with ``/inbox``;
    ``reason`` records why it was not pushed (an errcode, ``window`` or ``template``).
    """

    __tablename__ = "wechat_inbox"
    __table_args__ = (Index("ix_wechat_inbox_identity", "identity_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    body: Mapped[dict[str, Any]]
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WechatMassSend(Base):
    """One ``message/mass/send`` call of a broadcast: up to 10,000 OpenIDs of one language.

    ``clientmsgid`` is made from the broadcast and the batch number, so a call tried again
    after a timeout or a crash is one WeChat has seen (it answers 45065 with the first
    call's ``msg_id``) and never reaches anyone twice. ``status``: ``claimed`` while the
    call is in doubt (its rows are ``sending`` with ``mass_send_id`` set), ``accepted``
    once WeChat took it, ``finished`` when its ``MASSSENDJOBFINISH`` event brought the
    counts, ``refused`` when WeChat would not take it (its rows went back to the per-member
    routes).
    """

    __tablename__ = "wechat_mass_sends"
    __table_args__ = (UniqueConstraint("broadcast_id", "batch"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    batch: Mapped[int]
    clientmsgid: Mapped[str] = mapped_column(String(64), unique=True)
    language: Mapped[str] = mapped_column(String(8))
    msg_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    count: Mapped[int]
    """OpenIDs handed to WeChat in this call."""
    status: Mapped[str] = mapped_column(String(9), default="claimed")
    reason: Mapped[str | None] = mapped_column(String(64))
    """WeChat's finish status (``send success``, ``err(30003)``) or why it refused."""
    total: Mapped[int | None]
    """From the finish event: TotalCount, the followers WeChat found in the list."""
    filtered: Mapped[int | None]
    """From the finish event: FilterCount, the followers left to send to after WeChat's
    own filtering; None until the event comes."""
    sent: Mapped[int | None]
    errors: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
