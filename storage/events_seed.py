"""Seed section ``events``: officers' singles' events, upserted by title.

Times are written with their offset (``2026-12-12 14:00:00+08:00``) so a file means the
same wherever it is loaded; they are stored in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from storage.events import event_by_title
from storage.models.events import Event


class EventRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=2, max_length=80)
    description: str = Field(min_length=1, max_length=1000)
    place: str = Field(min_length=2, max_length=100)
    starts: AwareDatetime
    ends: AwareDatetime
    deadline: AwareDatetime
    places_women: int | None = Field(default=None, ge=0, le=1000)
    places_men: int | None = Field(default=None, ge=0, le=1000)
    places_total: int | None = Field(default=None, ge=1, le=1000)
    age_min: int | None = Field(default=None, ge=18, le=99)
    age_max: int | None = Field(default=None, ge=18, le=99)
    profile_required: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> EventRow:
        if self.ends <= self.starts or self.deadline > self.starts:
            raise ValueError("ends must be after starts, and the deadline not after starts")
        split = self.places_women is not None or self.places_men is not None
        if split == (self.places_total is not None):
            raise ValueError("give places_women and places_men, or places_total")
        if split and (self.places_women is None or self.places_men is None):
            raise ValueError("give both places_women and places_men")
        if self.age_min and self.age_max and self.age_min > self.age_max:
            raise ValueError("age_min is above age_max")
        return self


async def load_events(session: AsyncSession, rows: list[tuple[int, EventRow]]) -> list[str]:
    for _, row in rows:
        event = await event_by_title(session, row.title)
        if event is None:
            event = Event(title=row.title)
            session.add(event)
        event.description, event.place = row.description, row.place
        event.starts_at, event.ends_at = _utc(row.starts), _utc(row.ends)
        event.signup_deadline = _utc(row.deadline)
        event.places_women, event.places_men = row.places_women, row.places_men
        event.places_total = row.places_total
        event.age_min, event.age_max = row.age_min, row.age_max
        event.profile_required = row.profile_required
    await session.flush()
    return []


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC)
