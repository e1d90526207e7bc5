"""Roles on the command line and in the chat: a grant's scope must exist, and a role can be
taken back (``unionbot revoke``, an officer's ``/revoke``), after which it opens nothing."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from storage.models import RoleGrant
from storage.seed import DEMO_DIR, import_file
from tests.conftest import Chat
from tests.singles import ensure_member
from tests.test_cli import chat, unionbot


def test_grant_refuses_a_scope_that_names_nothing(database_url: str) -> None:
    assert unionbot("seed", "demo", url=database_url).returncode == 0
    chat(database_url, "x", "/menu")
    for role, what in (("chair", "enterprise"), ("unit_staff", "partner unit")):
        for scope in ("999", "abc", "１"):
            refused = unionbot("grant", "x", role, "--scope", scope, url=database_url)
            assert refused.returncode == 1
            assert refused.stderr.decode().strip() == f"unionbot: no {what} with id {scope!r}"
    granted = unionbot("grant", "x", "chair", "--scope", "1", url=database_url)
    assert granted.returncode == 0 and b"granted" in granted.stdout


def test_revoke_takes_a_role_back_on_the_command_line(database_url: str) -> None:
    chat(database_url, "x", "/menu")
    assert unionbot("grant", "x", "officer", url=database_url).returncode == 0
    assert "/broadcasts" in chat(database_url, "x", "/help")[0]["text"]
    taken = unionbot("revoke", "x", "officer", url=database_url)
    assert taken.returncode == 0 and taken.stdout.decode().strip() == "x: officer taken back"
    refused = chat(database_url, "x", "/broadcasts")[0]["text"]
    assert "工会干部" in refused
    again = unionbot("revoke", "x", "officer", url=database_url)
    assert again.returncode == 1 and b"does not hold officer" in again.stderr
    assert unionbot("revoke", "ghost", "officer", url=database_url).returncode == 1
    assert unionbot("revoke", "x", "chair", url=database_url).returncode == 2


async def test_an_officer_takes_a_role_back_in_the_chat(app: App) -> None:
    async with app.sessions() as session, session.begin():
        await import_file(session, DEMO_DIR / "00_core.yaml")
    chair = await ensure_member(app, "chair")
    async with app.sessions() as session:
        enterprise = await session.scalar(
            select(RoleGrant.scope).where(RoleGrant.member_id == chair, RoleGrant.role == "chair")
        )
    other = await ensure_member(app, "officer2")
    talk = Chat(app, "officer")
    usage = await talk.text_of({"as": "officer", "text": "/revoke chair"})
    assert "/revoke 会员编号 角色" in usage
    said = await talk.say({"as": "officer", "text": f"/revoke {chair} chair {enterprise}"})
    told = {m["to"]: m["text"] for m in said}
    assert told.keys() == {"officer", "chair"}
    assert "已收回" in told["officer"] and "工会主席" in told["officer"]
    assert "已被工会收回" in told["chair"]
    assert "工会主席" in await talk.text_of({"as": "chair", "text": "/bargain_new"})
    assert "没有“工会主席”" in await talk.text_of(
        {"as": "officer", "text": f"/revoke {chair} chair {enterprise}"}
    )
    assert "工会干部" in await talk.text_of({"as": "chair", "text": f"/revoke {other} officer"})
    await talk.say({"as": "admin", "text": "/menu"})
    refused = await talk.text_of({"as": "officer", "text": "/revoke 1 officer"})
    assert "管理员" in refused
