"""Seed sections of the singles' programme: ``events`` (upserted by title) and ``profiles``
(demo singles, upserted by console name).

Event times are written with their offset (``2026-12-12 14:00:00+08:00``) so a file means
the same wherever it is loaded; they are stored in UTC. A seeded profile records the time
it was loaded as its consent time: import only profiles whose owners agreed on paper.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from storage import members
from storage.core_seed import CONSOLE
from storage.events import event_by_title
from storage.models.events import Event
from storage.models.singles import HOBBIES, Education, Gender
from storage.profiles import save_profile
from storage.types import utcnow


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


class ProfileRow(BaseModel):
    """A demo single, reachable on the console as ``name`` (a member from ``members``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=64)
    display_name: str = Field(min_length=1, max_length=20)
    gender: Gender
    birth_year: int = Field(ge=1940, le=2010)
    town: str = Field(min_length=2, max_length=40)
    employer: str | None = Field(default=None, max_length=100)
    show_employer: bool = False
    education: Education
    height_cm: int | None = Field(default=None, ge=120, le=230)
    occupation: str = Field(min_length=1, max_length=40)
    hobbies: list[str] = Field(min_length=1)
    intro: str = Field(min_length=5, max_length=200)
    seek_ages: tuple[int, int]
    seek_towns: list[str] = Field(default=[], max_length=5)
    contact: str = Field(min_length=6, max_length=40)

    @field_validator("hobbies")
    @classmethod
    def _known_hobbies(cls, value: list[str]) -> list[str]:
        unknown = [h for h in value if h not in HOBBIES]
        if unknown:
            raise ValueError(f"unknown hobbies {unknown}: use {', '.join(HOBBIES)}")
        return value

    @field_validator("seek_ages")
    @classmethod
    def _range(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not 18 <= value[0] <= value[1] <= 99:
            raise ValueError("seek_ages is [youngest, oldest], from 18")
        return value


async def load_profiles(session: AsyncSession, rows: list[tuple[int, ProfileRow]]) -> list[str]:
    errors = []
    now = utcnow()
    for line, row in rows:
        member = await members.member_by_identity(session, CONSOLE, row.name)
        if member is None:
            errors.append(f"line {line}: unknown member {row.name!r}")
            continue
        values = row.model_dump(exclude={"name", "seek_ages"})
        values["seek_age_min"], values["seek_age_max"] = row.seek_ages
        await save_profile(session, member.id, values, now, now)
    return errors
