"""WeChat's own tables: delivered-once message keys, the shared access token, each
member's numbered choices, and the inbox of messages that could not be pushed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
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
