"""One way in: inputs that used to crash a handler get a plain answer, never an apology.

Ids beyond the database's integer range, digits that are not ASCII or full-width (``①``)
and payloads of the wrong shape are read in one place (:mod:`bot.numbers`,
:mod:`bot.payloads`); whatever does not read is a stale button or an unknown id.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.context import Context
from bot.messages import Button, Outgoing
from bot.numbers import MAX_ID, read_id, read_number, read_numbers
from bot.payloads import Payload
from bot.router import Router
from bot.settings import Settings
from storage import members
from storage.models import Enterprise
from storage.refusals import Refused
from storage.types import utcnow
from tests.conftest import Chat, with_routers
from tests.handlers.test_bargaining import as_, load_demo, running_session, to
from tests.wechat_support import FakeWeChat, WeChatServer, message_xml, wechat_bot

STALE = "这个按钮已失效"
APOLOGY = "抱歉，系统出了点问题"
TOO_BIG = "99999999999"
"""Beyond PostgreSQL's ``integer`` (2**31 - 1): asking the database for it used to fail."""


@pytest.mark.parametrize(
    ("who", "line", "answer"),
    [
        ("officer", f"/participants {TOO_BIG}", "请写活动编号"),
        ("xiaoming", {"press": f"ev:s:{TOO_BIG}"}, STALE),
        ("xiaoming", {"press": f"ev:c:{TOO_BIG}"}, STALE),
        ("xiaoming", {"press": f"tr:{TOO_BIG}:1"}, STALE),
        ("xiaoming", {"press": "tr:1:①"}, STALE),
        ("xiaoming", f"/vote {TOO_BIG} 1", "没有这场投票"),
        ("xiaoming", {"press": f"v:{TOO_BIG}:1"}, STALE),
        ("xiaoming", {"press": "np:①"}, STALE),
        ("xiaoming", {"press": f"np:{TOO_BIG}"}, STALE),
        ("xiaoming", {"press": f"n:{TOO_BIG}"}, STALE),
        ("xiaoming", {"press": "ev:s:"}, STALE),
        ("xiaoming", {"press": "ev:s:1:2"}, STALE),
    ],
)
async def test_ids_out_of_range_and_odd_digits_get_an_answer_not_an_apology(
    app: App, who: str, line: str | dict[str, str], answer: str, caplog: pytest.LogCaptureFixture
) -> None:
    await load_demo(app)
    chat = Chat(app, who)
    with caplog.at_level(logging.ERROR):
        text = "\n".join(m["text"] for m in await as_(chat, who, line))
    assert answer in text and APOLOGY not in text
    assert "handling failed" not in caplog.text


async def test_a_full_width_number_is_a_number(app: App) -> None:
    await load_demo(app)
    chat = Chat(app, "officer")
    assert "没有这个活动" in await chat.text_of("/participants ９９")


async def test_a_circled_digit_does_not_answer_a_numbered_form_question(app: App) -> None:
    chat = Chat(app, "chair")
    await running_session(app, chat)
    assert "哪一种" in await chat.text_of("/bargain_new")
    reply = await chat.text_of("①")
    assert APOLOGY not in reply and "请回复选项前的序号" in reply, reply
    assert "标题" in await chat.text_of("１")


async def test_a_circled_digit_on_wechat_is_text_not_an_option(settings: Settings) -> None:
    async with wechat_bot(settings, FakeWeChat()) as (_, _, base, _):
        wechat = WeChatServer(base)

        async def menu(created: int) -> str | None:
            return wechat.reply_text(await wechat.event("o-openid", "CLICK", "menu", created))

        shown = await menu(1_700_000_001)
        circled = await wechat.says("o-openid", "①")
        await menu(1_700_000_002)
        full_width = await wechat.says("o-openid", "１")
        await menu(1_700_000_003)
        ascii_digit = await wechat.says("o-openid", "1")
        await wechat.close()
    assert shown is not None and "回复 1：通知公告" in shown
    assert circled is not None and "没听懂" in circled
    assert full_width is not None and full_width == ascii_digit
    assert "通知" in full_width


async def test_a_wechat_message_with_two_contents_is_refused_whole(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    twice = message_xml("o-openid", "text", MsgId="77", Content="福利").replace(
        "<MsgId>", "<Content><![CDATA[/menu]]></Content><MsgId>"
    )
    async with wechat_bot(settings, FakeWeChat()) as (_, _, base, _):
        wechat = WeChatServer(base)
        with caplog.at_level(logging.ERROR):
            response = await wechat.post(twice)
        await wechat.close()
    assert response.status_code == 400
    assert "handling failed" not in caplog.text


@dataclass(frozen=True)
class Page(Payload, prefix="pg"):
    thing_id: int
    keyword: str


@dataclass(frozen=True)
class Choose(Payload, prefix="pg:c"):
    side: Literal["f", "m"]


@dataclass(frozen=True)
class Invite(Payload, prefix="inv", link=True):
    code: str


@dataclass(frozen=True)
class Place(Payload, prefix="pl"):
    latitude: float
    longitude: float
    page: int = 1
    word: str = ""


def test_a_payload_is_checked_when_the_button_is_made() -> None:
    assert Page(12, "医院:急诊").pack() == "pg:12:医院:急诊"
    with pytest.raises(ValueError, match="64 bytes"):
        Page(1, "医" * 21).pack()
    with pytest.raises(ValueError, match="not an id"):
        Page(MAX_ID + 1, "x").pack()
    with pytest.raises(ValueError, match="not an id"):
        Page(-1, "x").pack()
    with pytest.raises(ValueError, match="not one of"):
        Choose("x").pack()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="A-Z"):
        Invite("雇主").pack()
    assert Invite("AB2-x").pack() == "inv_AB2-x"
    with pytest.raises(ValueError, match="64 bytes"):
        Button("x", "y" * 65)


def test_a_payload_reads_back_only_in_its_own_shape() -> None:
    assert Page.unpack("12:医院:急诊") == Page(12, "医院:急诊")
    assert Choose.unpack("f") == Choose("f")
    odd_numbers = ("①:x", "１２:x", " 12:x", "12 :x", "012:x", "+12:x", "-1:x")
    for bad in ("", "12", ":x", *odd_numbers, f"{MAX_ID + 1}:x", "12:"):
        assert Page.unpack(bad) is None, bad
    assert Choose.unpack("x") is None


def test_trailing_fields_at_their_defaults_are_left_out_and_read_back() -> None:
    assert Place(27.947, -120.706).pack() == "pl:27.947:-120.706"
    assert Place(27.947, 120.0, 1, "医院").pack() == "pl:27.947:120.0:1:医院"
    assert Place.unpack("27.947:-120.706") == Place(27.947, -120.706)
    assert Place.unpack("27.9470:120:2") == Place(27.947, 120.0, 2)
    assert Place.unpack("1e-05:0:3:a:b") == Place(0.00001, 0.0, 3, "a:b")
    for bad in ("27.9", "nan:1", "inf:1", "1e999:1", "+1:1", " 1:1", "1,5:1", "1:1:", "1:1:x"):
        assert Place.unpack(bad) is None, bad
    with pytest.raises(ValueError, match="finite"):
        Place(math.nan, 1).pack()


def test_numbers_are_ascii_or_full_width_digits_only() -> None:
    assert read_number("１２") == 12 and read_number(" 7 ") == 7
    for odd in ("①", "²", "١٢", "1.5", "-3", "", "12a", str(MAX_ID + 1)):
        assert read_number(odd) is None, odd
    assert read_id("0") is None and read_id(str(MAX_ID)) == MAX_ID
    assert read_numbers("3 １ 2") == [3, 1, 2] and read_numbers("3 ①") is None


refusing = Router("test-refusals")


@refusing.command("half_done")
async def half_done(ctx: Context) -> None:
    """Writes, replies, messages someone and schedules, then a rule says no."""
    ctx.session.add(Enterprise(name="半途而废有限公司", city="杭州"))
    await ctx.session.flush()
    ctx.reply("saved!")
    ctx.send(ctx.member.id, lambda t: Outgoing("never sent"))
    ctx.schedule("event", 1, utcnow() + timedelta(days=1))
    raise Refused("events.started")


@refusing.button(Page)
async def page(ctx: Context, press: Page) -> None:
    ctx.reply(f"page of {press.thing_id} for {press.keyword}")


@refusing.button(Choose)
async def choose(ctx: Context, press: Choose) -> None:
    ctx.reply(f"side {press.side}")


@pytest.fixture
def refusing_app(app: App) -> App:
    with_routers(app, refusing, first=True)
    return app


async def test_a_refusal_is_answered_by_the_core_and_undoes_only_the_handler(
    refusing_app: App,
) -> None:
    chat = Chat(refusing_app, "newcomer")
    [reply] = await chat.say("/half_done")
    assert reply["text"] == "活动已经开始或结束了。"
    async with refusing_app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Enterprise)) == 0
        assert await members.find_member(session, "newcomer") is not None, "first contact stays"
    assert await refusing_app.jobs.cancel_reminders("event", 1) == 0, "nothing scheduled"


async def test_payload_kinds_share_a_first_word_and_bad_ones_are_stale(
    refusing_app: App,
) -> None:
    chat = Chat(refusing_app, "xiaoming")
    assert await chat.text_of({"press": "pg:12:医院"}) == "page of 12 for 医院"
    assert await chat.text_of({"press": "pg:c:m"}) == "side m"
    for stale in ("pg:c:x", "pg:①:医院", "pg:12", f"pg:{TOO_BIG}:x", "nothing:1"):
        assert STALE in await chat.text_of({"press": stale}), stale


async def test_a_service_word_said_in_a_live_meeting_is_a_statement(app: App) -> None:
    chat = Chat(app, "chair")
    _, code = await running_session(app, chat, step=5)
    await as_(chat, "xiaozhang", f"/join {code}")
    await chat.say("/meeting_open")
    said = await chat.say("福利")
    assert "已发言（第 1 条）" in to(said, "chair")
    assert "福利" in to(said, "xiaozhang")
    [page] = await as_(chat, "xiaozhang", "/transcript")
    assert "陈主席：福利" in page["text"]
    await chat.say("/meeting_close")
    assert "尊崇劳模联盟" in await chat.text_of("福利"), "after the meeting the word opens benefits"
