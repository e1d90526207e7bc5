"""A member's singles' profile: consent before anything is stored, the form's checks,
view, edit, pause, and /forget leaving no personal data behind."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.app import App
from storage.models import DialogState, Role
from storage.models.events import SignUp
from storage.models.singles import CONSENT_VERSION, Profile, ProfileView
from storage.types import utcnow
from tests.conftest import Chat, payloads
from tests.singles import (
    MAN,
    WOMAN,
    add_event,
    add_profile,
    create_profile,
    ensure_member,
    member_id,
)


async def profiles(app: App) -> list[Profile]:
    async with app.sessions() as session:
        return list(await session.scalars(select(Profile)))


async def test_consent_comes_first_and_declining_stores_nothing(app: App, chat: Chat) -> None:
    [consent] = await chat.say("/profile")
    assert "只有工会的职工红娘能看到" in consent["text"] and CONSENT_VERSION in consent["text"]
    assert payloads(consent) == ["prof:agree", "menu"]
    await chat.say({"press": "menu"})
    await chat.say({"press": "prof:agree"})
    await chat.say("小明")
    await chat.say("/cancel")
    assert await profiles(app) == []


async def test_the_consent_says_truthfully_what_officers_see(app: App, chat: Chat) -> None:
    """Officers see nicknames on event participant lists and exports, and card numbers only
    in reports, the gift list and the view log (tests/handlers/test_matchmaking.py)."""
    [consent] = await chat.say("/profile")
    text = consent["text"]
    assert "工会干部看不到您的资料" in text and "报名名单和导出的名单里能看到您的昵称" in text
    assert "举报、结婚礼遇名单和查看记录里只有资料编号" in text
    assert "婉拒和过期，对方收到的是同样的话、在同一时间" in text
    [english] = await Chat(app, "amy", "en").say("/profile")
    assert "the officers see your nickname on that event's participant list" in english["text"]


async def test_the_form_stores_the_profile_with_the_consent_time(app: App, chat: Chat) -> None:
    before = utcnow()
    assert "已保存" in await create_profile(chat, "xiaoming", MAN, hobbies="1，3、9 3")
    [profile] = await profiles(app)
    assert profile.consent_version == CONSENT_VERSION and profile.consented_at >= before
    assert profile.hobbies == ["travel", "music", "photography"]
    assert (profile.seek_age_min, profile.seek_age_max, profile.seek_towns) == (25, 40, [])
    assert profile.contact == "ajiang_2024" and profile.show_employer is False


async def test_the_form_refuses_bad_answers_with_reasons(chat: Chat) -> None:
    await chat.say("/profile")
    await chat.say({"press": "prof:agree"})
    await chat.say("小明")
    await chat.say("2")
    assert f"{utcnow().year - 60} 到 {utcnow().year - 18}" in await chat.text_of("2015")
    await chat.say("1995")
    await chat.say("寿昌镇")
    await chat.say("跳过")
    await chat.say("2")
    await chat.say("3")
    assert "120 到 230" in await chat.text_of("300")
    await chat.say("175")
    await chat.say("厨师")
    assert "1 到 10" in await chat.text_of("0 11")
    await chat.say("2")
    assert "太短" in await chat.text_of("你好")
    await chat.say("爱做饭的厨师。")
    assert "两个年龄" in await chat.text_of("40-20")
    await chat.say("22-30")
    assert "最多写 5 个" in await chat.text_of("甲 乙 丙 丁 戊 己")
    await chat.say("新安江街道 寿昌镇")
    assert "手机号" in await chat.text_of("12345")
    assert "手机号" in await chat.text_of("1abc")
    confirm = await chat.text_of("138 0000 0009")
    assert "13800000009" in confirm and "新安江街道、寿昌镇" in confirm


async def test_view_pause_and_edit(app: App, chat: Chat) -> None:
    await create_profile(chat, "xiaoming", MAN)
    mine = await chat.text_of("/profile")
    assert "阿江" in mine and "ajiang_2024" in mine and "公开给红娘" in mine
    assert "暂停" in await chat.text_of({"press": "prof:pause"})
    await ensure_member(app, "hongniang", Role.MATCHMAKER)
    assert "没有可以查看" in await chat.text_of({"as": "hongniang", "text": "/candidates"})
    assert "恢复" in await chat.text_of({"press": "prof:pause"})
    [first] = await profiles(app)
    await chat.say({"press": "prof:edit"})
    for answer in ("江哥", "2", "1994", "寿昌镇", "跳过", "2", "3", "跳过", "老师", "4"):
        await chat.say(answer)
    for answer in ("喜欢读书和散步。", "25-35", "跳过", "13912345678"):
        await chat.say(answer)
    await chat.say({"press": "f:ok"})
    [edited] = await profiles(app)
    assert (edited.display_name, edited.contact, edited.height_cm) == ("江哥", "13912345678", None)
    assert edited.consented_at == first.consented_at


async def test_forget_asks_first_and_then_removes_every_trace(app: App, chat: Chat) -> None:
    await create_profile(chat, "xiaohe", WOMAN)
    me = await member_id(app, "xiaohe")
    future = await add_event(app, places_total=1)
    await add_profile(app, "next", "f", 1995)
    await chat.say({"as": "xiaohe", "press": f"ev:s:{future}"})
    await chat.say({"as": "next", "press": f"ev:s:{future}"})
    now = utcnow()
    past = await add_event(
        app,
        title="上个月的活动",
        starts_at=now - timedelta(days=30),
        ends_at=now - timedelta(days=30) + timedelta(hours=2),
        signup_deadline=now - timedelta(days=31),
    )
    async with app.sessions() as session, session.begin():
        session.add(SignUp(event_id=past, member_id=me, side="all", status="confirmed"))
        session.add(ProfileView(matchmaker_id=None, member_id=me))

    [confirm] = await chat.say({"as": "xiaohe", "text": "/forget"})
    assert "不能撤销" in confirm["text"] and payloads(confirm) == ["forget:yes", "menu"]
    await chat.say({"as": "xiaohe", "press": "menu"})
    assert len(await profiles(app)) == 2
    done = await chat.say({"as": "xiaohe", "press": "forget:yes"})
    assert any(m["to"] == "next" and "转为正式报名" in m["text"] for m in done)

    async with app.sessions() as session:
        assert await session.scalar(select(Profile).where(Profile.member_id == me)) is None
        assert await session.scalar(select(SignUp).where(SignUp.member_id == me)) is None
        assert await session.scalar(select(ProfileView).where(ProfileView.member_id == me)) is None
        contacts = await session.scalar(
            select(func.count()).where(Profile.contact == WOMAN["contact"])
        )
        assert contacts == 0
        kept = await session.scalar(select(func.count()).where(SignUp.event_id == past))
        assert kept == 1, "the past sign-up stays as a count, with no member"


async def test_forget_without_a_profile_still_withdraws_from_open_events(
    app: App, chat: Chat
) -> None:
    event = await add_event(app, places_total=3, profile_required=False)
    await chat.say({"press": f"ev:s:{event}"})
    assert "不能撤销" in await chat.text_of("/forget")
    assert "已删除" in await chat.text_of({"press": "forget:yes"})
    async with app.sessions() as session:
        [row] = list(await session.scalars(select(SignUp)))
        assert (row.member_id, row.status, row.code) == (None, "cancelled", None)


async def test_forget_drops_a_half_filled_profile_form(app: App, chat: Chat) -> None:
    await chat.say("/profile")
    await chat.say({"press": "prof:agree"})
    await chat.say("小明")
    await chat.say({"press": "forget:yes"})
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DialogState)) == 0


async def test_a_new_consent_text_is_shown_again_before_the_profile(app: App, chat: Chat) -> None:
    await add_profile(app, "xiaoming", "m", 1994, consent_version="2025-01")
    [consent] = await chat.say("/profile")
    assert CONSENT_VERSION in consent["text"] and "prof:agree" in payloads(consent)
    await create_profile(chat, "xiaoming", MAN)
    [profile] = await profiles(app)
    assert profile.consent_version == CONSENT_VERSION
    assert "阿江" in await chat.text_of("/profile")


async def test_malformed_profile_and_forget_buttons_are_stale_and_change_nothing(
    app: App, chat: Chat
) -> None:
    await create_profile(chat, "xiaoming", MAN)
    for payload in (
        "prof:bogus",
        "prof:pause:1",
        "prof:Pause",
        "forget",
        "forget:no",
        "forget:yes:1",
    ):
        assert "这个按钮已失效" in await chat.text_of({"press": payload}), payload
    [profile] = await profiles(app)
    assert profile.paused is False and profile.display_name == "阿江"
