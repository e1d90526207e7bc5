"""One person, one vote across identities: /link moves every record of the merged member,
refuses a merge that would hold two votes in one ballot, and two identities of one member
pressing vote at the same instant give one vote."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import func, select

from bot.app import App
from bot.messages import Incoming
from storage import members
from storage.models import Member, RoleGrant
from storage.models.bargaining import BallotPaper, BallotVoter, Follower
from tests.conftest import Chat
from tests.handlers.test_bargaining import add_worker, as_, member_id, running_session, to


async def election(app: App, chat: Chat) -> tuple[int, str]:
    """A session at step 2 with a second phone of xiaowang's ("wangphone", a verified worker
    of the same enterprise), and an election open to both."""
    _, code = await running_session(app, chat, step=2)
    await add_worker(app, chat, "wangphone")
    zhang, wang = await member_id(app, "xiaozhang"), await member_id(app, "xiaowang")
    opened = await chat.say(f"/election 1 24 {zhang} {wang}")
    return int(re.findall(r"v:(\d+):1", str(opened))[0]), code


async def link_code(chat: Chat, name: str) -> str:
    made = to(await as_(chat, name, "/link"), name)
    found = re.search(r"绑定码是 ([A-Z0-9]{8})", made)
    assert found, made
    return found.group(1)


async def counts(app: App) -> tuple[int, int]:
    async with app.sessions() as session:
        voters = await session.scalar(select(func.count()).select_from(BallotVoter))
        papers = await session.scalar(select(func.count()).select_from(BallotPaper))
    return voters or 0, papers or 0


async def test_vote_link_and_vote_again_gives_one_paper(app: App) -> None:
    chat = Chat(app, "chair")
    ballot, code = await election(app, chat)
    assert "回执码" in to(await as_(chat, "xiaowang", f"/vote {ballot} 1"), "xiaowang")
    await as_(chat, "xiaowang", f"/join {code}")
    old = await member_id(app, "xiaowang")
    async with app.sessions() as session, session.begin():
        session.add(RoleGrant(member_id=old, role="matchmaker", scope=""))

    keep = await link_code(chat, "wangphone")
    assert "绑定成功" in to(await as_(chat, "xiaowang", f"/link {keep}"), "xiaowang")
    again = to(await as_(chat, "wangphone", f"/vote {ballot} 2"), "wangphone")
    assert "已经投过票" in again
    assert "已经投过票" in to(await as_(chat, "xiaowang", f"/vote {ballot} 2"), "xiaowang")
    assert await counts(app) == (1, 1)
    phone = await member_id(app, "wangphone")
    assert await member_id(app, "xiaowang") == phone
    async with app.sessions() as session:
        assert await session.get(Member, old) is None
        moved = await session.scalar(select(BallotVoter.member_id))
        follows = list(await session.scalars(select(Follower.member_id)))
        roles = list(
            await session.scalars(select(RoleGrant.role).where(RoleGrant.member_id == phone))
        )
    assert moved == phone and phone in follows and old not in follows and roles == ["matchmaker"]


async def test_a_merge_of_two_voters_in_one_ballot_is_refused_and_changes_nothing(
    app: App,
) -> None:
    chat = Chat(app, "chair")
    ballot, code = await election(app, chat)
    await as_(chat, "xiaowang", f"/vote {ballot} 1")
    await as_(chat, "wangphone", f"/vote {ballot} 2")
    await as_(chat, "wangphone", f"/join {code}")
    keep = await link_code(chat, "wangphone")
    refused = to(await as_(chat, "xiaowang", f"/link {keep}"), "xiaowang")
    assert "同一场投票中都投过票" in refused and "两个账号都没有改变" in refused
    assert await counts(app) == (2, 2)
    assert await member_id(app, "xiaowang") != await member_id(app, "wangphone")
    async with app.sessions() as session:
        follows = list(await session.scalars(select(Follower.member_id)))
    assert await member_id(app, "wangphone") in follows
    assert await member_id(app, "xiaowang") not in follows


async def test_duplicate_follows_and_roles_become_one(app: App) -> None:
    chat = Chat(app, "chair")
    _, code = await running_session(app, chat)
    await add_worker(app, chat, "wangphone")
    await as_(chat, "xiaowang", f"/join {code}")
    await as_(chat, "wangphone", f"/join {code}")
    keep = await link_code(chat, "wangphone")
    assert "绑定成功" in to(await as_(chat, "xiaowang", f"/link {keep}"), "xiaowang")
    phone = await member_id(app, "wangphone")
    async with app.sessions() as session:
        follows = list(await session.scalars(select(Follower.member_id)))
    assert follows.count(phone) == 1  # followed twice, once now


async def test_two_identities_pressing_vote_at_the_same_instant_give_one_vote(app: App) -> None:
    chat = Chat(app, "chair")
    ballot, _ = await election(app, chat)
    code = await link_code(chat, "xiaowang")
    [linked] = await app.dispatcher.handle(Incoming("telegram", "888", "888", text=f"/link {code}"))
    assert "绑定成功" in linked.text
    async with app.sessions() as session:
        assert (await members.find_member(session, "telegram:888")) is not None
    for _ in range(3):
        answers = await asyncio.gather(
            app.dispatcher.handle(
                Incoming("console", "xiaowang", "xiaowang", payload=f"v:{ballot}:1")
            ),
            app.dispatcher.handle(Incoming("telegram", "888", "888", payload=f"v:{ballot}:2")),
        )
        texts = [reply.text for replies in answers for reply in replies]
        assert sum("回执码是" in t for t in texts) <= 1
        assert all("回执码是" in t or "已经投过票" in t for t in texts), texts
    assert await counts(app) == (1, 1)
