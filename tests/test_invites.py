"""``unionbot invite``: the first administrator gets their role by sending a one-time code,
without the operator knowing their platform id; codes work once and expire."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from bot.app import App
from storage import invites
from storage.models import Enterprise, Role, RoleGrant
from storage.models.invites import Invite
from storage.types import utcnow
from tests.conftest import Chat
from tests.test_cli import chat, unionbot

CODE = re.compile(r"INV-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}")


def test_the_first_administrator_sends_the_printed_code(database_url: str) -> None:
    printed = unionbot("invite", "admin", url=database_url)
    assert printed.returncode == 0, printed.stderr.decode()
    [code] = CODE.findall(printed.stdout.decode())
    [accepted, _menu] = chat(database_url, "boss", code.lower())
    assert "您已获得“管理员”角色" in accepted["text"]
    assert "/broadcast" in chat(database_url, "boss", "/help")[0]["text"]
    [again] = chat(database_url, "intruder", code)
    assert "无效、已用过或已过期" in again["text"]
    assert "/broadcast" not in chat(database_url, "intruder", "/help")[0]["text"]


def test_scoped_roles_need_an_existing_scope(database_url: str) -> None:
    missing = unionbot("invite", "chair", url=database_url)
    assert missing.returncode == 2 and b"needs --scope" in missing.stderr
    unknown = unionbot("invite", "chair", "--scope", "999", url=database_url)
    assert unknown.returncode == 2 and b"no enterprise with id '999'" in unknown.stderr
    assert unionbot("invite", "officer", "--hours", "0", url=database_url).returncode == 2


async def make_invite(app: App, role: Role, scope: str = "", *, hours_ago: int = 0) -> str:
    async with app.sessions() as session, session.begin():
        now = utcnow() - timedelta(hours=hours_ago)
        return await invites.create_invite(session, role, scope, now, timedelta(hours=1))


async def roles_of(app: App) -> list[tuple[str, str]]:
    async with app.sessions() as session:
        return [(g.role, g.scope) for g in await session.scalars(select(RoleGrant))]


async def test_a_deep_link_gives_a_scoped_role(app: App, chat: Chat) -> None:
    async with app.sessions() as session, session.begin():
        session.add(Enterprise(id=7, name="永康五金", city="永康"))
    code = await make_invite(app, Role.CHAIR, "7")
    assert "已失效" in await chat.text_of({"start": "invite_"})
    assert "已过期" in await chat.text_of({"start": f"invite_{code}_1"})
    text = await chat.text_of({"start": f"invite_{code}"})
    assert "工会主席" in text
    assert await roles_of(app) == [("chair", "7")]


async def test_an_expired_code_gives_nothing(app: App, chat: Chat) -> None:
    code = await make_invite(app, Role.OFFICER, hours_ago=2)
    assert "已过期" in await chat.text_of(code)
    assert await roles_of(app) == []


async def test_only_the_codes_hash_is_stored(app: App) -> None:
    code = await make_invite(app, Role.ADMIN)
    async with app.sessions() as session:
        [invite] = (await session.scalars(select(Invite))).all()
    assert code not in invite.code_hash and code.replace("-", "") not in invite.code_hash


async def test_text_that_only_looks_like_a_code_is_left_alone(chat: Chat) -> None:
    assert "邀请码" not in await chat.text_of("INV-1234")
