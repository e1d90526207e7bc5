"""The issue's done-when story, through the console: profiles, an event with a waitlist,
a matchmaker's double-opt-in introduction, and /forget checked in the database."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.app import App
from storage.models import Role
from storage.models.events import SignUp
from storage.models.singles import Introduction, Profile
from tests.conftest import Chat, payloads
from tests.singles import (
    MAN,
    WOMAN,
    add_event,
    create_profile,
    ensure_member,
    member_id,
    profile_id,
)


async def test_two_members_meet_through_an_event_and_a_matchmaker(app: App, chat: Chat) -> None:
    consent = await chat.text_of({"as": "xiaohe", "text": "/profile"})
    assert "只有工会的职工红娘能看到" in consent and "/forget" in consent
    assert "已保存" in await create_profile(chat, "xiaohe", WOMAN)
    assert "已保存" in await create_profile(chat, "ajiang", MAN)
    await ensure_member(app, "third")
    await create_profile(chat, "third", {**MAN, "name": "老三", "contact": "13900000003"})

    event = await add_event(app)
    assert "签到码" in await chat.text_of({"as": "xiaohe", "press": f"ev:s:{event}"})
    assert "签到码" in await chat.text_of({"as": "ajiang", "press": f"ev:s:{event}"})
    assert "候补第 1 位" in await chat.text_of({"as": "third", "press": f"ev:s:{event}"})
    cancelled = await chat.say({"as": "ajiang", "press": f"ev:c:{event}"})
    promoted = [m for m in cancelled if m["to"] == "third"]
    assert len(promoted) == 1 and "转为正式报名" in promoted[0]["text"]
    assert "剩余名额：0" in await chat.text_of("/events")

    await ensure_member(app, "hongniang", Role.MATCHMAKER)
    cards = await chat.text_of({"as": "hongniang", "text": "/candidates"})
    for private in ("小荷", "阿江", "13800000001", "ajiang_2024"):
        assert private not in cards
    she, he = await profile_id(app, "xiaohe"), await profile_id(app, "ajiang")
    suggestions = await chat.say({"as": "hongniang", "press": f"mm:s:{she}"})
    assert f"mm:p:{she}:{he}" in [p for m in suggestions for p in payloads(m)]
    assert "年龄互相符合" in "\n".join(m["text"] for m in suggestions)
    proposed = await chat.say({"as": "hongniang", "press": f"mm:p:{she}:{he}"})
    invitations = {m["to"]: m for m in proposed if m["to"] in ("xiaohe", "ajiang")}
    assert set(invitations) == {"xiaohe", "ajiang"}
    for message in invitations.values():
        for private in ("小荷", "阿江", "13800000001", "ajiang_2024"):
            assert private not in message["text"]
    intro = payloads(invitations["xiaohe"])[0].split(":")[2]

    first = await chat.say({"as": "xiaohe", "press": f"intro:y:{intro}"})
    assert all("ajiang_2024" not in m["text"] for m in first)
    assert [m["to"] for m in first] == ["xiaohe"]
    second = await chat.say({"as": "ajiang", "press": f"intro:y:{intro}"})
    to = {m["to"]: m["text"] for m in second}
    assert "ajiang_2024" in to["xiaohe"] and "阿江" in to["xiaohe"]
    assert "13800000001" in to["ajiang"] and "小荷" in to["ajiang"]
    assert "双方都同意" in to["hongniang"]

    await chat.say({"as": "xiaohe", "text": "/forget"})
    assert "已删除" in await chat.text_of({"as": "xiaohe", "press": "forget:yes"})
    xiaohe = await member_id(app, "xiaohe")
    async with app.sessions() as session:
        assert await session.scalar(select(Profile).where(Profile.member_id == xiaohe)) is None
        left = await session.scalar(
            select(func.count()).select_from(Profile).where(Profile.contact == "13800000001")
        )
        assert left == 0
        assert await session.scalar(select(SignUp).where(SignUp.member_id == xiaohe)) is None
        intro_row = await session.get(Introduction, int(intro))
        assert intro_row is not None and xiaohe not in (
            intro_row.member_a_id,
            intro_row.member_b_id,
        )
        assert intro_row.status == "accepted"
