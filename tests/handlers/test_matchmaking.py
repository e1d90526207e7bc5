"""Matchmakers see anonymised cards and ranked pairs, propose introductions that both must
accept; declines stay anonymous, in words and in timing; a pair is introduced once, so
blocks hold for good, also across /forget; reports, outcomes (by the introducing matchmaker
or an officer), statistics and the view log, which show officers card numbers only."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot import reminders
from bot.app import App
from bot.messages import Incoming
from bot.sender import Sender
from bot.settings import Settings
from storage.matchmaking import score_pair
from storage.models import Role
from storage.models.singles import Block, Introduction, Profile, ProfileView
from storage.types import utcnow
from tests.conftest import Chat, payloads
from tests.singles import add_profile, ensure_member
from unionbot.app import build_app

MM = "hongniang"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """No quiet hours, so the notices at an introduction's end go out whenever tests run."""
    return Settings(  # type: ignore[call-arg]
        database_url=database_url, key_dir=tmp_path / "keys", quiet_hours="", _env_file=None
    )


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


async def introduced(app: App, chat: Chat) -> tuple[int, int, int]:
    """A woman and a man, introduced: their card numbers and the introduction's."""
    she, he = await setup_pair(app)
    await propose(chat, she, he)
    return she, he, await intro_id(app)


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
    assert log.count("hongniang 查看了") == 2 and f"资料 #{she}" in log
    assert "she昵称" not in log and "he昵称" not in log, "officers see card numbers only"
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


async def end_of_answering(app: App, chat: Chat) -> dict[str, list[str]]:
    """Every introduction's answering time runs out and its end job fires (twice, as after a
    crash); what the sender then delivers, by recipient."""
    async with app.sessions() as session, session.begin():
        await session.execute(
            update(Introduction).values(expires_at=utcnow() - timedelta(minutes=1))
        )
    reminders.bind(app)
    for job in app.jobs.scheduler.get_jobs():
        if job.id.startswith("intro_end:"):
            await reminders.fire(*job.args)
            await reminders.fire(*job.args)
    await Sender(app).send_all()
    got: dict[str, list[str]] = {}
    for message in chat._take():
        got.setdefault(message["to"], []).append(message["text"])
    return got


async def test_a_decline_reads_and_arrives_as_an_expiry_does(app: App, chat: Chat) -> None:
    """She declines one introduction; nobody answers the other. Nobody hears anything until
    the answering time is over, then everyone involved hears the same words."""
    she, he = await setup_pair(app)
    other_she = await add_profile(app, "she2", "f", 1995)
    other_he = await add_profile(app, "he2", "m", 1993)
    await propose(chat, she, he)
    declined_intro = await intro_id(app)
    await propose(chat, other_she, other_he)
    expired_intro = await intro_id(app)
    jobs = {j.id.split(":")[1]: j for j in app.jobs.scheduler.get_jobs()}
    async with app.sessions() as session:
        intro = await session.get(Introduction, declined_intro)
        assert intro is not None
        assert jobs[str(declined_intro)].next_run_time == intro.expires_at
    await chat.say({"as": "he", "press": f"intro:y:{declined_intro}"})
    declined = await chat.say({"as": "she", "press": f"intro:n:{declined_intro}"})
    assert [m["to"] for m in declined] == ["she"] and "婉拒" in declined[0]["text"]
    late = await chat.text_of({"as": "he", "press": f"intro:y:{declined_intro}"})
    assert "回复过" in late, "as if she had not answered yet"
    got = await end_of_answering(app, chat)
    assert sorted(got) == sorted([MM, "she", "he", "she2", "he2"])
    assert all(len(texts) == 1 for name, texts in got.items() if name != MM)
    assert got["he"] == [t.replace(f"#{expired_intro}", f"#{declined_intro}") for t in got["he2"]]
    assert "这次没有成功" in got["he"][0] and "wx_" not in got["he"][0]
    assert sorted(got[MM]) == sorted(got["he"] + got["he2"])
    closed = await chat.text_of({"as": "he2", "press": f"intro:y:{expired_intro}"})
    assert "已经结束" in closed


async def test_a_pair_once_introduced_is_never_suggested_or_introduced_again(
    app: App, chat: Chat
) -> None:
    she, he = await setup_pair(app)
    assert f"#{he}" in await chat.text_of({"as": MM, "text": f"/pairs {she}"})
    await propose(chat, she, he)
    number = await intro_id(app)
    await chat.say({"as": "she", "press": f"intro:n:{number}"})
    await end_of_answering(app, chat)
    assert f"#{he}" not in await chat.text_of({"as": MM, "text": f"/pairs {she}"})
    assert "已经介绍过" in await chat.text_of({"as": MM, "text": f"/introduce {he} {she}"})
    other_mm = "hongniang2"
    await ensure_member(app, other_mm, Role.MATCHMAKER)
    again = await chat.text_of({"as": other_mm, "text": f"/introduce {she} {he}"})
    assert "已经介绍过" in again, "whoever proposes it"


async def forget(chat: Chat, who: str) -> None:
    await chat.say({"as": who, "text": "/forget"})
    assert "已删除" in await chat.text_of({"as": who, "press": "forget:yes"})


async def test_a_block_holds_for_good_across_forget_by_either_side(app: App, chat: Chat) -> None:
    """She blocks him after they met; then each deletes the profile and starts over. They
    are never put together again, and nothing kept names either of them."""
    _she, he, number = await introduced(app, chat)
    await chat.say({"as": "she", "press": f"intro:y:{number}"})
    await chat.say({"as": "he", "press": f"intro:y:{number}"})
    assert "已屏蔽" in await chat.text_of({"as": "she", "press": f"intro:b:{number}"})
    await forget(chat, "she")
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Block)) == 0
    she_again = await add_profile(app, "she", "f", 1996, hobbies=["music"])
    assert f"#{he}" not in await chat.text_of({"as": MM, "text": f"/pairs {she_again}"})
    assert "已经介绍过" in await chat.text_of({"as": MM, "text": f"/introduce {she_again} {he}"})
    await forget(chat, "he")
    he_again = await add_profile(app, "he", "m", 1994, hobbies=["music"])
    assert f"#{he_again}" not in await chat.text_of({"as": MM, "text": f"/pairs {she_again}"})
    refused = await chat.text_of({"as": MM, "text": f"/introduce {he_again} {she_again}"})
    assert "已经介绍过" in refused and "屏蔽" not in refused, "nor who blocked whom"
    async with app.sessions() as session:
        [intro] = await session.scalars(select(Introduction))
        assert intro.member_a_id is None and intro.member_b_id is None
        assert intro.pair_key is not None and len(intro.pair_key) == 64


async def test_a_block_while_pending_declines_and_ends_with_the_others(
    app: App, chat: Chat
) -> None:
    """Blocking after a yes, before the other answered: the other's yes reveals nothing."""
    _she, _he, number = await introduced(app, chat)
    await chat.say({"as": "she", "press": f"intro:y:{number}"})
    blocked = await chat.say({"as": "she", "text": f"/block {number}"})
    assert [m["to"] for m in blocked] == ["she"]
    accepted = await chat.say({"as": "he", "press": f"intro:y:{number}"})
    assert [m["to"] for m in accepted] == ["he"] and "等对方也同意" in accepted[0]["text"]
    got = await end_of_answering(app, chat)
    assert "这次没有成功" in got["he"][0] and "wx_she_01" not in "".join(got["he"])


async def test_forgetting_during_an_introduction_ends_it_at_its_time(app: App, chat: Chat) -> None:
    _she, _he, number = await introduced(app, chat)
    forgotten = await chat.say({"as": "she", "text": "/forget"})
    forgotten += await chat.say({"as": "she", "press": "forget:yes"})
    assert {m["to"] for m in forgotten} == {"she"}
    assert "等对方也同意" in await chat.text_of({"as": "he", "press": f"intro:y:{number}"})
    got = await end_of_answering(app, chat)
    assert sorted(got) == sorted([MM, "he"]) and "这次没有成功" in got["he"][0]


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
    assert f"资料 #{she} 举报资料 #{he}" in to["officer"] and "言语骚扰" in to["officer"]
    assert "昵称" not in to["officer"], "officers see card numbers, not nicknames"
    assert "已收到" in to["she"] and "he" not in to
    assert "没有找到" in await chat.text_of({"as": "outsider", "text": f"/report {number} 乱说"})
    assert "没有找到" in await chat.text_of({"as": "outsider", "text": f"/block {number}"})
    assert "已屏蔽" in await chat.text_of({"as": "she", "press": f"intro:b:{number}"})
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Block)) == 1
        await session.rollback()
    assert "已经介绍过" in await chat.text_of({"as": MM, "text": f"/introduce {she} {he}"})
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
    assert f"资料 #{she} ❤ 资料 #{he}" in gifts and "昵称" not in gifts
    stats = await chat.text_of({"as": "officer", "text": "/mmstats"})
    assert "hongniang：1 / 1 / 1" in stats


async def test_only_the_introducing_matchmaker_or_an_officer_records_an_outcome(
    app: App, chat: Chat
) -> None:
    _she, _he, number = await introduced(app, chat)
    await chat.say({"as": "she", "press": f"intro:y:{number}"})
    await chat.say({"as": "he", "press": f"intro:y:{number}"})
    await ensure_member(app, "hongniang2", Role.MATCHMAKER)
    other = await chat.text_of({"as": "hongniang2", "text": f"/outcome {number} 已结婚"})
    assert f"没有介绍 #{number}" in other, "another matchmaker's introduction reads as unknown"
    assert "只对职工红娘开放" in await chat.text_of(
        {"as": "she", "text": f"/outcome {number} 已结婚"}
    )
    assert "/outcome" not in await chat.text_of({"as": "she", "text": "/help"})
    assert "/outcome" in await chat.text_of({"as": MM, "text": "/help"})
    async with app.sessions() as session:
        intro = await session.get(Introduction, number)
        assert intro is not None and intro.outcome is None
    await ensure_member(app, "officer", Role.OFFICER)
    assert "已结婚" in await chat.text_of({"as": "officer", "text": f"/outcome {number} 已结婚"})
    assert "聊天中" in await chat.text_of({"as": MM, "text": f"/outcome {number} talking"})


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
