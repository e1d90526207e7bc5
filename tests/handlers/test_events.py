"""Members sign up for events, wait in line, cancel; each refusal says why; officers create
events, list participants, export them and check people in."""

from __future__ import annotations

import csv
import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.app import App
from storage.models import Role
from storage.models.events import Event, SignUp
from storage.types import utcnow
from tests.conftest import Chat, payloads
from tests.singles import add_event, add_profile, ensure_member, member_id
from unionbot.cli import export_event


async def test_the_list_shows_places_left_per_side(app: App, chat: Chat) -> None:
    event = await add_event(app, places_total=None, places_women=1, places_men=2)
    await add_profile(app, "xiaohe", "f", 1996)
    await chat.say({"as": "xiaohe", "press": f"ev:s:{event}"})
    text = await chat.text_of("/events")
    assert "女生 0 个，男生 2 个" in text and "寿昌宫" in text


async def test_no_events_says_so(chat: Chat) -> None:
    assert "没有交友活动" in await chat.text_of("/events")


async def test_many_coming_events_come_as_one_page_at_a_time(app: App, chat: Chat) -> None:
    now = utcnow()
    for day in range(12, 0, -1):
        await add_event(
            app,
            title=f"活动{day:02d}",
            starts_at=now + timedelta(days=day),
            ends_at=now + timedelta(days=day, hours=2),
            signup_deadline=now + timedelta(hours=day),
            places_total=3,
        )
    await add_profile(app, "xiaohe", "f", 1996)
    first = await chat.say("/events")
    assert len(first) == 1, "one message per press, whatever the number of events"
    titles = re.findall(r"活动\d\d", first[0]["text"])
    assert titles == ["活动01", "活动02", "活动03", "活动04", "活动05"], "soonest first"
    assert "第 1/3 页，共 12 场" in first[0]["text"]
    signed = next(p for p in payloads(first[0]) if p.startswith("ev:s:"))
    await chat.say({"as": "xiaohe", "press": signed})
    second = await chat.say({"press": "ev:p:2"})
    assert re.findall(r"活动\d\d", second[0]["text"]) == [f"活动{d:02d}" for d in range(6, 11)]
    assert payloads(second[0])[-2:] == ["ev:p:1", "ev:p:3"]
    last = (await chat.say({"press": "ev:p:9"}))[0]
    assert "第 3/3 页" in last["text"] and "ev:p:4" not in payloads(last)
    assert re.findall(r"活动\d\d", last["text"]) == ["活动11", "活动12"]
    again = (await chat.say("/events"))[0]["text"]
    assert again.count("剩余名额：3 个") == 4 and again.count("剩余名额：2 个") == 1


async def test_a_full_side_sends_to_its_own_waitlist(app: App, chat: Chat) -> None:
    event = await add_event(app, places_total=None, places_women=1, places_men=1)
    await add_profile(app, "w1", "f", 1996)
    await add_profile(app, "w2", "f", 1995)
    await add_profile(app, "m1", "m", 1994)
    assert "签到码" in await chat.text_of({"as": "w1", "press": f"ev:s:{event}"})
    assert "候补第 1 位" in await chat.text_of({"as": "w2", "press": f"ev:s:{event}"})
    assert "签到码" in await chat.text_of({"as": "m1", "press": f"ev:s:{event}"})
    cancelled = await chat.say({"as": "m1", "press": f"ev:c:{event}"})
    assert [m["to"] for m in cancelled] == ["m1"], "a man's place does not go to a woman"
    promoted = await chat.say({"as": "w1", "press": f"ev:c:{event}"})
    assert any(m["to"] == "w2" and "转为正式报名" in m["text"] for m in promoted)
    assert "签到码" in await chat.text_of({"as": "w2", "text": "/myevents"})


async def test_cancelling_a_waitlist_place_promotes_nobody(app: App, chat: Chat) -> None:
    event = await add_event(app, places_total=1)
    for name in ("a", "b", "c"):
        await add_profile(app, name, "f", 1996)
        await chat.say({"as": name, "press": f"ev:s:{event}"})
    assert [m["to"] for m in await chat.say({"as": "b", "press": f"ev:c:{event}"})] == ["b"]
    promoted = await chat.say({"as": "a", "press": f"ev:c:{event}"})
    assert any(m["to"] == "c" for m in promoted)


async def test_refusals_each_give_their_reason(app: App, chat: Chat) -> None:
    now = utcnow()
    event = await add_event(app, age_min=22, age_max=30)
    assert "需要先填写交友资料" in await chat.text_of({"press": f"ev:s:{event}"})
    await add_profile(app, "xiaoming", "m", now.year - 35)
    assert "22–30 岁" in await chat.text_of({"press": f"ev:s:{event}"})
    await add_profile(app, "young", "f", now.year - 25)
    assert "签到码" in await chat.text_of({"as": "young", "press": f"ev:s:{event}"})
    assert "不用重复报名" in await chat.text_of({"as": "young", "press": f"ev:s:{event}"})
    late = await add_event(app, title="已截止的活动", signup_deadline=now - timedelta(hours=1))
    assert "截止" in await chat.text_of({"as": "young", "press": f"ev:s:{late}"})
    assert "没有这个活动" in await chat.text_of({"as": "young", "press": "ev:s:999"})
    assert "没有报名" in await chat.text_of({"as": "young", "press": f"ev:c:{late}"})


async def test_signing_up_again_after_cancelling_joins_the_end_of_the_line(
    app: App, chat: Chat
) -> None:
    event = await add_event(app, places_total=1)
    for name in ("a", "b"):
        await add_profile(app, name, "f", 1996)
    await chat.say({"as": "a", "press": f"ev:s:{event}"})
    await chat.say({"as": "a", "press": f"ev:c:{event}"})
    assert "签到码" in await chat.text_of({"as": "b", "press": f"ev:s:{event}"})
    assert "候补第 1 位" in await chat.text_of({"as": "a", "press": f"ev:s:{event}"})


async def test_an_event_without_a_profile_requirement_takes_anyone(app: App, chat: Chat) -> None:
    event = await add_event(app, profile_required=False, places_total=5)
    assert "签到码" in await chat.text_of({"press": f"ev:s:{event}"})


async def test_officers_create_an_event_by_form(app: App, chat: Chat) -> None:
    await ensure_member(app, "officer", Role.OFFICER)
    assert "只对工会干部开放" in await chat.text_of("/newevent")
    year = utcnow().year + 1
    answers = [
        "/newevent",
        "青荷对对·潮韵新安 春游",
        "十里寿昌江踏青",
        "建德市寿昌镇",
        f"{year}-03-14 09:00",
        f"{year}-03-14 08:00",
        f"{year}-03-10 18:00",
        "8",
        "8",
        "跳过",
        "22-35",
        "1",
    ]
    replies = [await chat.text_of({"as": "officer", "text": line}) for line in answers]
    assert "报名截止" in replies[5], "an end before the start is checked on saving"
    assert "22-35" in replies[-1]
    bad = await chat.text_of({"as": "officer", "press": "f:ok"})
    assert "结束时间要晚于开始时间" in bad
    await chat.say({"as": "officer", "text": "/cancel"})
    for line in [
        *answers[:5],
        f"{year}-03-14 12:00",
        f"{year}-03-10 18:00",
        "0",
        "0",
        "20",
        "跳过",
        "2",
    ]:
        await chat.say({"as": "officer", "text": line})
    assert "已发布" in await chat.text_of({"as": "officer", "press": "f:ok"})
    async with app.sessions() as session:
        event = await session.scalar(select(Event))
        assert event is not None
        assert (event.places_total, event.places_women, event.profile_required) == (20, None, False)
        assert event.starts_at.hour == 1, "09:00 in Shanghai is 01:00 UTC"


async def test_officers_list_check_in_and_export(app: App, chat: Chat, tmp_path: Path) -> None:
    await ensure_member(app, "officer", Role.OFFICER)
    event = await add_event(app, places_total=1)
    for name in ("a", "b"):
        await add_profile(app, name, "f", 1996)
    signed = await chat.text_of({"as": "a", "press": f"ev:s:{event}"})
    await chat.say({"as": "b", "press": f"ev:s:{event}"})
    code = re.search(r"签到码：([A-Z0-9]{6})", signed)
    assert code is not None
    listing = await chat.text_of({"as": "officer", "text": f"/participants {event}"})
    assert "共 2 人" in listing and "a昵称" in listing and "候补" in listing
    assert "只对工会干部开放" in await chat.text_of({"as": "a", "text": f"/participants {event}"})
    assert "已签到" in await chat.text_of({"as": "officer", "text": f"/checkin {code.group(1)}"})
    assert "已经签到过" in await chat.text_of(
        {"as": "officer", "text": f"/checkin {code.group(1)}"}
    )
    assert "签到码不对" in await chat.text_of({"as": "officer", "text": "/checkin ZZZZZZ"})
    out = tmp_path / "list.csv"
    assert await export_event(app, event, out) == 0
    assert await export_event(app, 999, out) == 1
    with out.open(encoding="utf-8-sig") as file:
        table = list(csv.reader(file))
    assert table[0][:3] == ["name", "side", "status"]
    assert [row[2] for row in table[1:]] == ["confirmed", "waitlist"]
    assert table[1][4] != ""
    both = {await member_id(app, "a"), await member_id(app, "b")}
    async with app.sessions() as session:
        assert set(await session.scalars(select(SignUp.member_id))) == both


async def test_a_long_participant_list_comes_in_pages(app: App, chat: Chat) -> None:
    await ensure_member(app, "officer", Role.OFFICER)
    event = await add_event(app, places_total=30)
    for n in range(23):
        await add_profile(app, f"p{n}", "f", 1996)
        await chat.say({"as": f"p{n}", "press": f"ev:s:{event}"})
    [first] = await chat.say({"as": "officer", "text": f"/participants {event}"})
    assert "共 23 人（第 1 页）" in first["text"] and first["text"].count("✔") == 20
    assert payloads(first) == [f"evp:{event}:2"]
    [second] = await chat.say({"as": "officer", "press": f"evp:{event}:2"})
    assert second["text"].count("✔") == 3 and payloads(second) == []
    assert "请写活动编号" in await chat.text_of({"as": "officer", "text": "/participants"})
    assert "没有这个活动" in await chat.text_of({"as": "officer", "text": "/participants 99"})
