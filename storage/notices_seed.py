"""Seed section ``notices``: officers' notices, upserted by title."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Notice
from storage.types import utcnow

AUDIENCES = ("all", "town", "enterprise", "language")


class NoticeRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=2, max_length=100)
    body: str = Field(min_length=2, max_length=4000)
    link: str | None = Field(default=None, max_length=300, pattern="^https?://")
    image: str | None = Field(default=None, max_length=300, pattern=r"^https?://\S+$")
    deadline: AwareDatetime | None = None
    """With its offset, e.g. ``2026-12-20T17:00:00+08:00``."""
    published: AwareDatetime | None = None
    audience: str = "all"
    audience_value: str = ""

    @field_validator("audience")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in AUDIENCES:
            raise ValueError(f"must be one of {', '.join(AUDIENCES)}")
        return value


async def load_notices(session: AsyncSession, rows: list[tuple[int, NoticeRow]]) -> list[str]:
    for _, row in rows:
        notice = await session.scalar(select(Notice).where(Notice.title == row.title))
        if notice is None:
            notice = Notice(title=row.title)
            session.add(notice)
        notice.body = row.body
        notice.link = row.link
        notice.image = row.image
        notice.deadline = row.deadline
        notice.audience = row.audience
        notice.audience_value = row.audience_value
        if row.published is not None:
            notice.created_at = row.published
        elif notice.created_at is None:
            notice.created_at = utcnow()
    await session.flush()
    return []
