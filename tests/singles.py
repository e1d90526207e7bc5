"""Shared steps for the singles' programme tests: profiles, events and roles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.app import App
from storage import members
from storage.core_seed import CONSOLE
from storage.models import Member, Role
from storage.models.events import Event
from storage.models.singles import CONSENT_VERSION, Profile
from storage.types import utcnow
from tests.conftest import Chat

WOMAN = {
    "name": "小荷",
    "gender": "1",
    "born": "1996",
    "town": "新安江街道",
    "contact": "13800000001",
}
MAN = {"name": "阿江", "gender": "2", "born": "1994", "town": "寿昌镇", "contact": "ajiang_2024"}


async def create_profile(chat: Chat, who: str, person: dict[str, str], **extra: str) -> str:
    """Walk the consent step and the whole form as ``who``; returns the last reply."""
    answers = {
        "hobbies": "1 3 9",
        "seek": "25-40",
        "towns": "跳过",
        "education": "3",
        **extra,
    }
    await chat.say({"as": who, "text": "/profile"})
    await chat.say({"as": who, "press": "prof:agree"})
    for answer in (
        person["name"],
        person["gender"],
        person["born"],
        person["town"],
        "建德市新安江机械有限公司",
        "2",
        answers["education"],
        "168",
        "工程师",
        answers["hobbies"],
        "喜欢周末去千岛湖走走。",
        answers["seek"],
        answers["towns"],
        person["contact"],
    ):
        await chat.say({"as": who, "text": answer})
    return await chat.text_of({"as": who, "press": "f:ok"})


async def member_id(app: App, name: str) -> int:
    async with app.sessions() as session:
        member = await members.member_by_identity(session, CONSOLE, name)
        assert member is not None
        return member.id


async def ensure_member(app: App, name: str, role: Role | None = None) -> int:
    async with app.sessions() as session, session.begin():
        member = await members.member_by_identity(session, CONSOLE, name)
        if member is None:
            _, member = await members.create_member(session, CONSOLE, name, name, "zh_CN")
        if role is not None:
            await members.grant_role(session, member.id, role)
        return member.id


async def add_event(app: App, **values: Any) -> int:
    now = utcnow()
    fields: dict[str, Any] = {
        "title": "青荷对对·潮韵新安 冬日联谊",
        "description": "游戏、茶歇和自我介绍。",
        "place": "建德市工人文化宫（寿昌宫）",
        "starts_at": now + timedelta(days=10),
        "ends_at": now + timedelta(days=10, hours=3),
        "signup_deadline": now + timedelta(days=8),
        "places_total": 2,
        "profile_required": True,
    }
    fields.update(values)
    async with app.sessions() as session, session.begin():
        event = Event(**fields)
        session.add(event)
        await session.flush()
        return event.id


async def profile_id(app: App, name: str) -> int:
    from sqlalchemy import select

    async with app.sessions() as session:
        found = await session.scalar(
            select(Profile.id)
            .join(Member, Member.id == Profile.member_id)
            .where(Profile.member_id == await member_id(app, name))
        )
        assert found is not None
        return found


async def add_profile(app: App, name: str, gender: str, birth_year: int, **values: Any) -> int:
    """A consented profile written straight to the database (the form has its own tests)."""
    member = await ensure_member(app, name)
    fields: dict[str, Any] = {
        "member_id": member,
        "display_name": f"{name}昵称",
        "gender": gender,
        "birth_year": birth_year,
        "town": "新安江街道",
        "employer": "建德市新安江机械有限公司",
        "show_employer": False,
        "education": "bachelor",
        "occupation": "工程师",
        "hobbies": ["travel", "music"],
        "intro": "喜欢周末去千岛湖走走。",
        "seek_age_min": 22,
        "seek_age_max": 40,
        "seek_towns": [],
        "contact": f"wx_{name}_01",
        "consent_version": CONSENT_VERSION,
        "consented_at": utcnow(),
    }
    fields.update(values)
    async with app.sessions() as session, session.begin():
        profile = Profile(**fields)
        session.add(profile)
        await session.flush()
        return profile.id
