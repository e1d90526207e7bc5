"""Matchmakers see anonymised cards and ranked pairs, propose introductions that both must
accept; declines stay anonymous; blocks, reports, outcomes, statistics and the view log."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from bot.app import App, build_app
from bot.messages import Incoming
from storage.matchmaking import score_pair
from storage.models import Role
from storage.models.singles import Block, Introduction, Profile, ProfileView
from storage.types import utcnow
from tests.conftest import Chat, payloads
from tests.singles import add_profile, ensure_member

MM = "hongniang"


async def setup_pair(app: App, **her: Any) -> tuple[int, int]:
    await ensure_member(app, MM, Role.MATCHMAKER)
    she = await add_profile(app, "she", "f", 1996, hobbies=["travel", "music"], **her)
    he = await add_profile(app, "he", "m", 1994, hobbies=["music", "pets"], town="寿昌镇")
    return she, he


async def propose(chat: Chat, one: int, other: int) -> list[dict[str, Any]]:
    return await chat.say({"as": MM, "text": f"/introduce {one} {other}"})


async def intro_id(app: App) -> int:
    async with app.sessions() as session:
        found = await session.scalar(select(Introduction.id).order_by(Introduction.id.desc()))
        assert found is not None
        return found


async def test_only_matchmakers_see_candidates(app: App, chat: Chat) -> None:
    await setup_pair(app)
    assert "只对职工红娘开放" in await chat.text_of("/candidates")
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ProfileView)) == 0


async def test_cards_are_anonymous_and_every_view_is_logged(app: App, chat: Chat) -> None:
    she, _ = await setup_pair(app, show_employer=True)
    cards = await chat.say({"as": MM, "text": "/candidates"})
    text = "\n".join(m["text"] for m in cards)
    assert f"资料 #{she}" in text and "she昵称" not in text and "wx_she_01" not in text
    assert text.count("建德市新安江机械有限公司") == 1, "only she allowed her employer shown"
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ProfileView)) == 2
    await ensure_member(app, "officer", Role.OFFICER)
    log = await chat.text_of({"as": "officer", "text": "/viewlog"})
    assert log.count("hongniang 查看了") == 2 and "she昵称" in log
    assert "只对工会干部开放" in await chat.text_of({"as": MM, "text": "/viewlog"})


async def test_suggestions_are_ranked_with_reasons(app: App, chat: Chat) -> None:
    she, he = await setup_pair(app)
    far = await add_profile(app, "far", "m", 1970, hobbies=[], education="secondary")
    await add_profile(app, "sister", "f", 1996)
    replies = await chat.say({"as": MM, "text": f"/pairs {she}"})
    texts = [m["text"] for m in replies]
    assert f"#{he}" in texts[1] and "共同爱好：音乐" in texts[1] and "年龄互相符合" in texts[1]
    assert all("sister" not in t for t in texts), "women are paired with men"
    assert payloads(replies[1]) == [f"mm:p:{she}:{he}"]
    assert not any(f"#{far}" in t and "年龄互相" in t for t in texts)


def profile(**values: Any) -> Profile:
    fields: dict[str, Any] = {
        "gender": "f",
        "birth_year": 1996,
        "town": "新安江街道",
        "education": "bachelor",
        "hobbies": [],
        "seek_age_min": 20,
        "seek_age_max": 40,
        "seek_towns": [],
    }
    return Profile(**{**fields, **values})


def test_the_score_adds_ages_towns_hobbies_and_education() -> None:
    now = utcnow().replace(year=2026)
    her = profile(hobbies=["travel", "music", "pets"], seek_towns=["寿昌"])
    him = profile(gender="m", birth_year=1990, town="寿昌镇", hobbies=["music", "pets"])
    assert score_pair(her, him, now).score == 40 + 30 + 10 + 10
    older = profile(gender="m", birth_year=1980, town="杭州", education="secondary")
    found = score_pair(her, older, now)
    assert found.score == 15 + 10 + 0 + 0
    assert [r for r, _ in found.reasons] == ["match.reason.ages_one", "match.reason.towns_one"]


async def test_both_accept_then_each_gets_the_others_contact(app: App, chat: Chat) -> None:
    she, he = await setup_pair(app)
    proposed = await propose(chat, she, he)
    assert {m["to"] for m in proposed} == {MM, "she", "he"}
    number = await intro_id(app)
    first = await chat.say({"as": "he", "press": f"intro:y:{number}"})
    assert [m["to"] for m in first] == ["he"] and "等对方也同意" in first[0]["text"]
    assert "回复过" in await chat.text_of({"as": "he", "press": f"intro:n:{number}"})
    both = {m["to"]: m["text"] for m in await chat.say({"as": "she", "press": f"intro:y:{number}"})}
    assert "wx_he_01" in both["she"] and "wx_she_01" in both["he"]
    assert "wx_" not in both[MM]


async def test_a_decline_is_never_traced_to_the_person(app: App, chat: Chat) -> None:
    she, he = await setup_pair(app)
    await propose(chat, she, he)
    number = await intro_id(app)
    await chat.say({"as": "he", "press": f"intro:y:{number}"})
    declined = await chat.say({"as": "she", "press": f"intro:n:{number}"})
    to = {m["to"]: m["text"] for m in declined}
    assert "婉拒" in to["she"]
    assert to["he"] == to[MM] and "可能有人婉拒，也可能已过期" in to["he"]
    assert all("wx_" not in text for text in to.values())
    assert "已经结束" in await chat.text_of({"as": "he", "press": f"intro:y:{number}"})


async def test_an_expired_introduction_cannot_be_accepted(app: App, chat: Chat) -> None:
    she, he = await setup_pair(app)
    await propose(chat, she, he)
    number = await intro_id(app)
    async with app.sessions() as session, session.begin():
        await session.execute(
            update(Introduction).values(expires_at=utcnow() - timedelta(minutes=1))
        )
    assert "已经结束" in await chat.text_of({"as": "she", "press": f"intro:y:{number}"})
    assert "没有找到" in await chat.text_of({"press": f"intro:y:{number}"})


async def test_proposals_are_refused_with_reasons(app: App, chat: Chat) -> None:
    she, he = await setup_pair(app)
    sister = await add_profile(app, "sister", "f", 1995)
    assert "一男一女" in await chat.text_of({"as": MM, "text": f"/introduce {she} {sister}"})
    assert "没有资料 #999" in await chat.text_of({"as": MM, "text": f"/introduce {she} 999"})
    await propose(chat, she, he)
    assert "已经介绍过" in await chat.text_of({"as": MM, "text": f"/introduce {he} {she}"})
    for n in range(2):
        other = await add_profile(app, f"m{n}", "m", 1993)
        await propose(chat, she, other)
    fourth = await add_profile(app, "m9", "m", 1993)
    refused = await chat.text_of({"as": MM, "text": f"/introduce {she} {fourth}"})
    assert "3 个待回复" in refused
    async with app.sessions() as session, session.begin():
        await session.execute(update(Profile).where(Profile.id == fourth).values(paused=True))
    assert "已暂停" in await chat.text_of({"as": MM, "text": f"/introduce {sister} {fourth}"})


async def test_blocking_and_reporting_after_an_introduction(app: App, chat: Chat) -> None:
    she, he = await setup_pair(app)
    await ensure_member(app, "officer", Role.OFFICER)
    await propose(chat, she, he)
    number = await intro_id(app)
    await chat.say({"as": "she", "press": f"intro:y:{number}"})
    await chat.say({"as": "he", "press": f"intro:y:{number}"})
    reported = await chat.say({"as": "she", "text": f"/report {number} 言语骚扰"})
    to = {m["to"]: m["text"] for m in reported}
    assert "she昵称" in to["officer"] and "he昵称" in to["officer"] and "言语骚扰" in to["officer"]
    assert "已收到" in to["she"] and "he" not in to
    assert "没有找到" in await chat.text_of({"as": "outsider", "text": f"/report {number} 乱说"})
    assert "没有找到" in await chat.text_of({"as": "outsider", "text": f"/block {number}"})
    assert "已屏蔽" in await chat.text_of({"as": "she", "press": f"intro:b:{number}"})
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Block)) == 1
        await session.rollback()
    async with app.sessions() as session, session.begin():
        await session.execute(update(Introduction).values(status="closed"))
    assert "屏蔽" in await chat.text_of({"as": MM, "text": f"/introduce {she} {he}"})
    assert "暂时没有" in await chat.text_of({"as": MM, "text": f"/pairs {she}"})


async def test_outcomes_gifts_and_statistics(app: App, chat: Chat) -> None:
    she, he = await setup_pair(app)
    await ensure_member(app, "officer", Role.OFFICER)
    await propose(chat, she, he)
    number = await intro_id(app)
    assert "双方都同意后" in await chat.text_of({"as": MM, "text": f"/outcome {number} 已结婚"})
    await chat.say({"as": "she", "press": f"intro:y:{number}"})
    await chat.say({"as": "he", "press": f"intro:y:{number}"})
    assert "已结婚" in await chat.text_of({"as": MM, "text": f"/outcome {number} married"})
    assert "聊天中" in await chat.text_of({"as": MM, "text": f"/outcome {number} 乱写"})
    gifts = await chat.text_of({"as": "officer", "text": "/gifts"})
    assert "she昵称 ❤ he昵称" in gifts
    stats = await chat.text_of({"as": "officer", "text": "/mmstats"})
    assert "hongniang：1 / 1 / 1" in stats


async def test_both_accepting_at_the_same_moment_reveals_once(app: App, chat: Chat) -> None:
    she, he = await setup_pair(app)
    await propose(chat, she, he)
    number = await intro_id(app)
    second = build_app(app.settings)
    try:
        replies = await asyncio.gather(
            app.dispatcher.handle(Incoming("console", "she", "she", payload=f"intro:y:{number}")),
            second.dispatcher.handle(Incoming("console", "he", "he", payload=f"intro:y:{number}")),
        )
    finally:
        await second.close()
    texts = [m.text for reply in replies for m in reply]
    assert sum("等对方也同意" in t for t in texts) == 1
    assert sum("双方都愿意认识" in t for t in texts) == 1
    async with app.sessions() as session:
        intro = await session.get(Introduction, number)
        assert intro is not None and intro.status == "accepted"


async def test_candidates_come_in_pages(app: App, chat: Chat) -> None:
    await ensure_member(app, MM, Role.MATCHMAKER)
    for n in range(7):
        await add_profile(app, f"p{n}", "fm"[n % 2], 1995)
    first = await chat.say({"as": MM, "text": "/candidates"})
    assert len(first) == 6 and "5 / 7" in first[-1]["text"]
    assert payloads(first[-1]) == ["mm:list:2"]
    second = await chat.say({"as": MM, "press": "mm:list:2"})
    assert len(second) == 2


async def test_an_english_member_reads_the_invitation_in_english(app: App, chat: Chat) -> None:
    await ensure_member(app, MM, Role.MATCHMAKER)
    she = await add_profile(app, "amy", "f", 1996)
    he = await add_profile(app, "he", "m", 1994)
    await chat.say({"as": "amy", "text": "/lang en"})
    invitations = {m["to"]: m["text"] for m in await propose(chat, she, he)}
    assert "A matchmaker would like you to meet someone" in invitations["amy"]
    assert "红娘想为您介绍" in invitations["he"]
