"""A member on WeChat: scans a QR code, uses the menu, answers options by number, fills a
form, and reads messages that waited in the inbox. Proactive sending picks the
customer-service API, the template or the inbox, and survives WeChat's refusals."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from bot.app import App
from bot.channels.base import RateLimited, RecipientBlocked, TemporaryFailure
from bot.channels.wechat import WeChatChannel
from bot.channels.wechat.api import WeChatApi
from bot.channels.wechat.menu import build_menu
from bot.channels.wechat.render import MAX_TEXT_BYTES, render, split
from bot.context import Context
from bot.messages import Button, Outgoing, rows
from bot.router import Router
from bot.settings import Settings
from storage.models import Identity
from storage.models.wechat import WechatInboxMessage
from storage.types import utcnow
from tests.test_cli import unionbot
from tests.wechat_support import (
    PNG,
    FakeWeChat,
    WeChatServer,
    message_xml,
    served,
    wechat_bot,
    wechat_settings,
)

XIAOLI = "o-xiaoli-openid"


def event_router() -> Router:
    """A service with a deep link for its events, as "scan to sign up" posters use."""
    router = Router("test-events")

    @router.start("event")
    async def open_event(ctx: Context) -> None:
        ctx.reply(
            f"活动 {ctx.args}：单身职工联谊会",
            rows(
                [Button("报名", f"signup:{ctx.args}")],
                [Button("活动详情", url="https://example.org/e?id=1&x=2")],
            ),
        )

    @router.button("signup")
    async def sign_up(ctx: Context) -> None:
        ctx.reply(f"已报名活动 {ctx.args}")

    return router


async def test_scan_subscribe_menu_and_numbered_answers(settings: Settings) -> None:
    async with wechat_bot(settings, FakeWeChat(), [event_router()]) as (_, _, base, _):
        wechat = WeChatServer(base)
        scanned = wechat.reply_text(await wechat.event(XIAOLI, "subscribe", "qrscene_event_7"))
        pressed = await wechat.says(XIAOLI, "1")
        again = wechat.reply_text(await wechat.event(XIAOLI, "SCAN", "event_9"))
        menu = wechat.reply_text(await wechat.event(XIAOLI, "CLICK", "menu"))
        numbers = re.findall(r"回复 (\d+)：", menu or "")
        help_number = re.search(r"回复 (\d+)：帮助", menu or "")
        assert help_number is not None
        help_ = await wechat.says(XIAOLI, help_number.group(1))
        stale = await wechat.says(XIAOLI, "99")
        await wechat.close()
    assert scanned is not None and scanned.startswith("活动 7：单身职工联谊会")
    assert "回复 1：报名" in scanned
    assert '<a href="https://example.org/e?id=1&x=2">活动详情</a>' in scanned
    assert pressed == "已报名活动 7"
    assert again is not None and again.startswith("活动 9")
    assert menu is not None and menu.startswith("您好！这里是职工服务平台")
    assert numbers == [str(n) for n in range(1, len(numbers) + 1)]
    assert "：我的资料" in menu
    assert help_ is not None and "/inbox" in help_
    assert stale is not None and stale.startswith("没听懂")


async def test_a_number_presses_an_option_of_the_last_reply_only(settings: Settings) -> None:
    router = Router("test-options")

    @router.command("pick")
    async def pick(ctx: Context) -> None:
        ctx.reply("选一个", rows([Button("甲", "chose:a")]))

    @router.command("plain")
    async def plain(ctx: Context) -> None:
        ctx.reply("没有选项")

    @router.button("chose")
    async def chose(ctx: Context) -> None:
        ctx.reply(f"选了 {ctx.args}")

    async with wechat_bot(settings, FakeWeChat(), [router]) as (_, _, base, _):
        wechat = WeChatServer(base)
        await wechat.says(XIAOLI, "/pick")
        await wechat.says(XIAOLI, "/pick")
        pressed = await wechat.says(XIAOLI, "1")
        await wechat.says(XIAOLI, "/pick")
        await wechat.says(XIAOLI, "/plain")
        after_plain = await wechat.says(XIAOLI, "1")
        await wechat.close()
    assert pressed == "选了 a"
    assert after_plain is not None and after_plain.startswith("没听懂")


async def test_a_plain_subscribe_shows_the_menu(settings: Settings) -> None:
    async with wechat_bot(settings, FakeWeChat()) as (_, _, base, _):
        wechat = WeChatServer(base)
        welcome = wechat.reply_text(await wechat.event(XIAOLI, "subscribe"))
        await wechat.close()
    assert welcome is not None and welcome.startswith("您好！")


async def test_inside_a_form_numbers_answer_the_form(settings: Settings, app: App) -> None:
    async with app.sessions() as session, session.begin():
        from storage.models import Enterprise

        session.add_all(
            [Enterprise(name="永康五金厂", city="永康"), Enterprise(name="慈溪电器", city="慈溪")]
        )
    async with wechat_bot(settings, FakeWeChat()) as (_, _, base, _):
        wechat = WeChatServer(base)
        await wechat.says(XIAOLI, "/me")
        await wechat.says(XIAOLI, "李小丽")
        ask = await wechat.says(XIAOLI, "坎墩街道")
        await wechat.says(XIAOLI, "2")
        confirm = await wechat.says(XIAOLI, "跳过")
        saved = await wechat.says(XIAOLI, "1")
        await wechat.close()
    assert ask is not None and "2. 慈溪电器（慈溪）" in ask
    assert "回复“跳过”" in ask and "回复“/cancel”" in ask
    assert confirm is not None and "慈溪电器" in confirm
    assert "回复 1：确认" in confirm and "回复 2：取消" in confirm
    assert saved is not None and "保存" in saved


async def test_a_long_reply_is_split_and_the_rest_pushed(settings: Settings) -> None:
    router = Router("test-long")

    @router.command("long")
    async def long(ctx: Context) -> None:
        ctx.reply("\n".join(f"第 {n} 行：职工服务平台为您服务" for n in range(200)))

    fake = FakeWeChat()
    async with wechat_bot(settings, fake, [router]) as (_, channel, base, _):
        wechat = WeChatServer(base)
        first = await wechat.says(XIAOLI, "/long")
        await channel.idle()
        await wechat.close()
    pushed = fake.texts_to(XIAOLI)
    assert first is not None and first.startswith("第 0 行")
    assert all(len(part.encode()) <= MAX_TEXT_BYTES for part in [first, *pushed])
    assert "\n".join([first, *pushed]).count("职工服务平台为您服务") == 200


def test_text_is_split_under_the_byte_limit_even_without_line_breaks() -> None:
    parts = split("工" * 3000)
    assert "".join(parts) == "工" * 3000
    assert all(len(p.encode()) <= MAX_TEXT_BYTES for p in parts)


def test_buttons_are_numbered_across_messages(app: App) -> None:
    t = app.dispatcher.translations["en"]
    rendered = render(
        [
            Outgoing("A", rows([Button("one", "x:1"), Button("two", "x:2")])),
            Outgoing("B", rows([Button("three", "x:3")])),
        ],
        t,
    )
    assert rendered.parts == ["A\nReply 1: one\nReply 2: two\n\nB\nReply 3: three"]
    assert rendered.payloads == ["x:1", "x:2", "x:3"]


async def make_member(app: App, channel: WeChatChannel, openid: str) -> None:
    from bot.messages import Incoming

    await app.dispatcher.handle(Incoming("wechat", openid, openid, text="/start"))


async def age(app: App, openid: str, days: int) -> None:
    async with app.sessions() as session, session.begin():
        await session.execute(
            update(Identity)
            .where(Identity.external_id == openid)
            .values(last_seen_at=utcnow() - timedelta(days=days))
        )


async def inbox(app: App) -> list[tuple[str, str]]:
    async with app.sessions() as session:
        rows_ = await session.execute(
            select(WechatInboxMessage.reason, WechatInboxMessage.body).order_by(
                WechatInboxMessage.id
            )
        )
        return [(reason, body["text"]) for reason, body in rows_]


async def test_proactive_messages_use_the_window_then_the_inbox(settings: Settings) -> None:
    fake = FakeWeChat()
    async with wechat_bot(settings, fake) as (app, channel, base, _):
        await make_member(app, channel, "o-recent")
        await make_member(app, channel, "o-away")
        await age(app, "o-away", days=3)
        await channel.send("o-recent", Outgoing("明天上午9点开会"))
        await channel.send("o-away", Outgoing("联谊会报名截止提醒"))
        kept = await inbox(app)
        await age(app, "o-away", days=0)
        wechat = WeChatServer(base)
        hint = await wechat.says("o-away", "你好")
        shown = await wechat.says("o-away", "/inbox")
        empty = await wechat.says("o-away", "/inbox")
        await wechat.close()
    assert fake.texts_to("o-recent") == ["明天上午9点开会"]
    assert fake.texts_to("o-away") == []
    assert kept == [("window", "联谊会报名截止提醒")]
    assert hint is not None and "您有 1 条未读消息，回复 /inbox 查看" in hint
    assert shown is not None and "联谊会报名截止提醒" in shown and "未读" not in shown
    assert empty is not None and empty.startswith("没有等您读的消息")


async def test_outside_the_window_a_configured_template_is_sent(settings: Settings) -> None:
    fake = FakeWeChat()
    async with wechat_bot(settings, fake, wechat_template_id="TPL1") as (app, channel, _, _):
        await make_member(app, channel, "o-away")
        await age(app, "o-away", days=3)
        await channel.send("o-away", Outgoing("联谊会报名截止提醒"))
        await channel.send("o-away", Outgoing("请选择", rows([Button("报名", "signup:1")])))
        kept = await inbox(app)
    assert [t["data"]["content"]["value"] for t in fake.templates] == [
        "联谊会报名截止提醒",
        "请选择",
    ]
    assert fake.templates[0]["template_id"] == "TPL1"
    assert kept == [("template", "请选择")]


@pytest.mark.parametrize("errcode", [45015, 45047])
async def test_a_quota_refusal_is_recorded_and_wechat_not_asked_again(
    settings: Settings, errcode: int
) -> None:
    fake = FakeWeChat(refuse={"o-limited": errcode})
    async with wechat_bot(settings, fake) as (app, channel, _, _):
        await make_member(app, channel, "o-limited")
        await make_member(app, channel, "o-fine")
        for n in range(3):
            await channel.send("o-limited", Outgoing(f"通知 {n}"))
        await channel.send("o-fine", Outgoing("通知"))
        kept = await inbox(app)
    assert kept == [(str(errcode), "通知 0"), ("window", "通知 1"), ("window", "通知 2")]
    assert fake.refused_calls == [("custom", "o-limited", errcode)]
    assert fake.texts_to("o-fine") == ["通知"]


@pytest.mark.parametrize("errcode", [43004, 43019])
async def test_an_unsubscribed_or_blacklisted_user_is_reported_blocked(
    settings: Settings, errcode: int
) -> None:
    fake = FakeWeChat(refuse={"o-gone": errcode})
    async with wechat_bot(settings, fake) as (app, channel, _, _):
        await make_member(app, channel, "o-gone")
        with pytest.raises(RecipientBlocked):
            await channel.send("o-gone", Outgoing("通知"))
        assert await inbox(app) == []


@pytest.mark.parametrize(("errcode", "raised"), [(-1, TemporaryFailure), (500, TemporaryFailure)])
async def test_wechat_busy_is_a_temporary_failure_and_the_next_try_delivers_once(
    settings: Settings, errcode: int, raised: type[Exception]
) -> None:
    fake = FakeWeChat(refuse_once={"o-1": [errcode]})
    async with wechat_bot(settings, fake) as (app, channel, _, _):
        await make_member(app, channel, "o-1")
        with pytest.raises(raised) as failure:
            await channel.send("o-1", Outgoing("明天开会"))
        assert "access_token" not in str(failure.value), "a reason is stored: no URL in it"
        assert await inbox(app) == []
        await channel.send("o-1", Outgoing("明天开会"))
        kept = await inbox(app)
    assert fake.texts_to("o-1") == ["明天开会"]
    assert kept == []


async def test_over_the_per_minute_quota_wechat_is_rate_limited(settings: Settings) -> None:
    fake = FakeWeChat(refuse_once={"o-1": [45011]})
    async with wechat_bot(settings, fake) as (app, channel, _, _):
        await make_member(app, channel, "o-1")
        with pytest.raises(RateLimited) as limited:
            await channel.send("o-1", Outgoing("明天开会"))
        kept = await inbox(app)
    assert limited.value.retry_after == 60
    assert kept == []
    assert fake.texts_to("o-1") == []


async def test_over_the_per_user_limit_a_configured_template_is_sent(settings: Settings) -> None:
    fake = FakeWeChat(refuse={"o-limited": 45047})
    async with wechat_bot(settings, fake, wechat_template_id="TPL1") as (app, channel, _, _):
        await make_member(app, channel, "o-limited")
        await channel.send("o-limited", Outgoing("联谊会报名截止提醒"))
        kept = await inbox(app)
    assert [t["data"]["content"]["value"] for t in fake.templates] == ["联谊会报名截止提醒"]
    assert kept == []


async def test_the_sender_retries_a_busy_wechat_and_delivers_once(settings: Settings) -> None:
    from bot.broadcasting import publish
    from bot.pacing import Pacer
    from bot.sender import Sender
    from storage import members
    from storage.models import Delivery

    fake = FakeWeChat(refuse_once={"o-1": [-1]})
    async with wechat_bot(settings, fake) as (app, channel, _, _):
        await make_member(app, channel, "o-1")
        async with app.sessions() as session, session.begin():
            member = await members.find_member(session, "wechat:o-1")
            assert member is not None
            noon = utcnow().replace(hour=4, minute=0)  # 12:00 in Shanghai, outside quiet hours
            await publish(
                session,
                app.outbox,
                "test:busy",
                [(member.id, lambda t: Outgoing("明天开会"))],
                noon,
            )
        now = [noon]
        sender = Sender(app, {"wechat": Pacer(0)}, clock=lambda: now[0])
        await sender.send_all()
        async with app.sessions() as session:
            first = await session.scalar(select(Delivery.status))
        now[0] = noon + timedelta(hours=1)
        await sender.send_all()
        async with app.sessions() as session:
            last = await session.scalar(select(Delivery.status))
    assert first == "pending"
    assert last == "sent"
    assert fake.texts_to("o-1") == ["明天开会"]


async def test_unsubscribing_stops_messages_until_the_member_writes(settings: Settings) -> None:
    async with wechat_bot(settings, FakeWeChat()) as (app, _, base, _):
        wechat = WeChatServer(base)
        await wechat.says(XIAOLI, "你好")
        assert (await wechat.event(XIAOLI, "unsubscribe")).text == "success"
        async with app.sessions() as session:
            identity = await session.scalar(select(Identity).where(Identity.external_id == XIAOLI))
        await wechat.close()
    assert identity is not None and identity.active is False


async def test_one_token_serves_every_process_and_a_rejected_one_is_renewed_once(
    settings: Settings,
) -> None:
    fake = FakeWeChat()
    async with served(fake.app()) as url, wechat_bot(settings, fake) as (app, channel, _, _):
        await make_member(app, channel, "o-1")
        others = [WeChatApi(wechat_settings(settings, url), app.sessions) for _ in range(3)]
        await asyncio.gather(*(api.send_text("o-1", "hi") for api in others))
        assert fake.tokens_issued == ["TOKEN-1"]
        fake.revoked.add("TOKEN-1")
        await others[0].send_text("o-1", "again")
        await others[1].send_text("o-1", "and again")
        for api in others:
            await api.close()
    assert fake.tokens_issued == ["TOKEN-1", "TOKEN-2"]
    assert fake.texts_to("o-1") == ["hi", "hi", "hi", "again", "and again"]


def entries(menu: dict[str, Any]) -> list[dict[str, str]]:
    """Every clickable entry of a custom menu, top entries and sub-entries in order."""
    found = []
    for button in menu["button"]:
        found += button.get("sub_button", [button])
    return found


def test_the_menu_fits_wechats_three_by_five(app: App) -> None:
    menu = build_menu(app.dispatcher, app.dispatcher.translations["zh_CN"])
    assert 1 <= len(menu["button"]) <= 3
    assert all(len(b["name"].encode()) <= 16 for b in menu["button"])
    assert all(len(b.get("sub_button", [])) <= 5 for b in menu["button"])
    everyone = [i.payload for i in app.dispatcher.menu_items if i.role is None]
    keys = [e["key"] for e in entries(menu)]
    if len(everyone) <= 7:
        assert keys == everyone
    else:
        assert keys == [*everyone[:6], "menu"], "what does not fit opens the whole menu"
    first = app.dispatcher.menu_items[0]
    assert {"type": "click", "name": "通知公告", "key": first.payload} in entries(menu)
    assert all(any(ch.isalnum() for ch in e["name"]) for e in entries(menu))


def test_a_long_menu_groups_entries_under_more(app: App) -> None:
    from bot.router import MenuItem

    app.dispatcher.menu_items = [MenuItem("menu.help", f"p{n}") for n in range(9)]
    menu: dict[str, Any] = build_menu(app.dispatcher, app.dispatcher.translations["zh_CN"])
    assert len(menu["button"]) == 3
    more = menu["button"][2]
    assert more["name"] == "更多"
    assert len(more["sub_button"]) == 5
    assert more["sub_button"][-1] == {"type": "click", "name": "全部功能", "key": "menu"}


def test_wechat_menu_prints_the_menu_without_credentials(tmp_path: Any) -> None:
    result = unionbot("wechat", "menu", url=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    assert result.returncode == 0, result.stderr
    menu = json.loads(result.stdout)
    assert 1 <= len(menu["button"]) <= 3
    assert {"type": "click", "name": "交友资料", "key": "prof"} in entries(menu)


async def test_wechat_menu_apply_and_qrcode_use_the_api(tmp_path: Any) -> None:
    fake = FakeWeChat()
    async with served(fake.app()) as url:
        env = {
            "UNIONBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db",
            "UNIONBOT_WECHAT_APP_ID": "wx2c2769f8efd9abc2",
            "UNIONBOT_WECHAT_APP_SECRET": "app-secret",
            "UNIONBOT_WECHAT_TOKEN": "spamtest",
            "UNIONBOT_WECHAT_API_URL": url,
            "UNIONBOT_WECHAT_QRCODE_URL": url + "/showqrcode",
        }
        menu = await run("wechat", "menu", "--apply", env=env)
        out = tmp_path / "poster.png"
        qrcode = await run("wechat", "qrcode", "event_7", "--out", str(out), env=env)
        bad = await run("wechat", "qrcode", "event 7!", env=env)
    assert menu[0] == 0 and "menu set" in menu[1]
    assert {"type": "click", "name": "交友资料", "key": "prof"} in entries(fake.menus[0])
    assert qrcode[0] == 0, qrcode
    assert fake.qrcodes == [
        {
            "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": "event_7"}},
            "expire_seconds": 30 * 24 * 3600,
        }
    ]
    assert out.read_bytes().startswith(b"\x89PNG")
    assert bad[0] == 2


async def run(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """``unionbot ARGS`` as a real process, without blocking this loop (it serves the fake)."""
    import os

    from tests.test_cli import UNIONBOT

    environment = {k: v for k, v in os.environ.items() if not k.startswith("UNIONBOT_")}
    process = await asyncio.create_subprocess_exec(
        UNIONBOT,
        *args,
        env={**environment, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def test_wechat_is_built_only_with_its_credentials(
    app: App, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from unionbot.app import build_app
    from unionbot.channels import configured_channels

    with caplog.at_level("INFO"):
        assert configured_channels(app) == []
    assert "WeChat channel off: UNIONBOT_WECHAT_APP_ID, UNIONBOT_WECHAT_APP_SECRET" in caplog.text
    configured = build_app(wechat_settings(settings, "http://127.0.0.1:9"))
    channels = configured_channels(configured)
    assert [c.name for c in channels] == ["wechat"]
    assert [r.path for r in channels[0].routes()] == ["/wechat"]  # type: ignore[attr-defined]
    await channels[0].stop()
    await configured.close()


async def test_a_shared_location_reaches_the_services_location_handler(settings: Settings) -> None:
    router = Router("test-near")

    @router.location()
    async def nearby(ctx: Context) -> None:
        assert ctx.message.location is not None
        where = ctx.message.location
        ctx.reply(f"附近的服务点 {where.latitude:.2f},{where.longitude:.2f}")

    async with wechat_bot(settings, FakeWeChat(), [router]) as (_, _, base, _):
        wechat = WeChatServer(base)
        xml = message_xml(
            XIAOLI,
            "location",
            Location_X="30.17",
            Location_Y="121.27",
            Scale="15",
            Label="慈溪市坎墩街道",
            MsgId="99",
        )
        answer = wechat.reply_text(await wechat.post(xml))
        await wechat.close()
    assert answer == "附近的服务点 30.17,121.27"


async def test_polling_mode_says_wechat_needs_serve(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from unionbot.app import build_app
    from unionbot.runner import channels_running

    configured = build_app(wechat_settings(settings, "http://127.0.0.1:9"))
    with caplog.at_level("INFO"):
        async with channels_running(configured, webhook=False) as channels:
            assert [c.name for c in channels] == ["wechat"]
    await configured.close()
    assert "run `unionbot serve` to serve WeChat members" in caplog.text


async def test_unionbot_serve_answers_wechat(tmp_path: Any) -> None:
    """The real command: webhook verification and a message through ``unionbot serve``."""
    import os
    import socket

    from tests.test_cli import UNIONBOT

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("UNIONBOT_")}
    environment.update(
        UNIONBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/serve.db",
        UNIONBOT_WECHAT_APP_ID="wx2c2769f8efd9abc2",
        UNIONBOT_WECHAT_APP_SECRET="app-secret",
        UNIONBOT_WECHAT_TOKEN="spamtest",
        UNIONBOT_WECHAT_API_URL="http://127.0.0.1:9",
    )
    process = await asyncio.create_subprocess_exec(
        UNIONBOT,
        "serve",
        "--port",
        str(port),
        env=environment,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wechat = WeChatServer(base, plain=True)
    try:
        for _ in range(300):
            try:
                health = await wechat.client.get(base + "/healthz")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.05)
        assert health.json() == {"status": "ok"}
        echo = await wechat.client.get(wechat.url, params={**wechat.query(), "echostr": "e1"})
        answer = await wechat.says(XIAOLI, "/menu")
    finally:
        await wechat.close()
        process.terminate()
        await process.wait()
    assert echo.text == "e1"
    assert answer is not None and answer.startswith("您好！")


async def test_when_wechat_is_unreachable_messages_wait_to_be_tried_again(
    settings: Settings,
) -> None:
    from bot.delivery import MessageClass
    from bot.sender import Sender
    from storage import members
    from storage.models import Delivery
    from storage.types import utcnow
    from unionbot.app import build_app

    app = build_app(wechat_settings(settings, "http://127.0.0.1:9"))
    channel = WeChatChannel(app)
    app.outbox.attach(channel)
    await make_member(app, channel, "o-1")
    async with app.sessions() as session:
        member = await members.find_member(session, "wechat:o-1")
    assert member is not None
    with pytest.raises(TemporaryFailure):
        await channel.send("o-1", Outgoing("明天开会"))
    async with app.sessions() as session, session.begin():
        message = (member.id, lambda t: Outgoing("明天开会"))
        await app.outbox.write(session, [message], MessageClass.INTERACTIVE, utcnow())
    await Sender(app).send_all()
    async with app.sessions() as session:
        waiting = (await session.scalars(select(Delivery))).all()
    await channel.stop()
    await app.close()
    assert [(w.status, w.body["text"]) for w in waiting] == [("pending", "明天开会")]
    assert "TemporaryFailure" in (waiting[0].reason or "")


async def test_a_token_near_its_expiry_is_renewed_before_use(settings: Settings) -> None:
    from storage.models.wechat import WechatToken

    fake = FakeWeChat()
    async with wechat_bot(settings, fake) as (app, channel, _, _):
        await make_member(app, channel, "o-1")
        await channel.api.send_text("o-1", "first")
        async with app.sessions() as session, session.begin():
            await session.execute(
                update(WechatToken).values(expires_at=utcnow() + timedelta(minutes=3))
            )
        fresh = WeChatApi(app.settings, app.sessions)
        await fresh.send_text("o-1", "second")
        await fresh.close()
    assert fake.tokens_issued == ["TOKEN-1", "TOKEN-2"]
    assert fake.texts_to("o-1") == ["first", "second"]


# -- images: uploaded as temporary media, sent as customer-service messages after the text --


def image_router(image: str) -> Router:
    router = Router("test-image")

    @router.command("qr")
    async def qr(ctx: Context) -> None:
        ctx.reply("这是您的活动签到码", image=image)

    return router


def png_file(tmp_path: Path, name: str = "code.png") -> str:
    path = tmp_path / name
    path.write_bytes(PNG)
    return str(path)


async def test_a_reply_with_an_image_sends_the_text_then_uploads_and_sends_the_image(
    settings: Settings, tmp_path: Path
) -> None:
    fake = FakeWeChat()
    async with wechat_bot(settings, fake, [image_router(png_file(tmp_path))]) as (
        _,
        channel,
        base,
        _,
    ):
        wechat = WeChatServer(base)
        reply = await wechat.says(XIAOLI, "/qr")
        await channel.idle()
        await wechat.close()
    assert reply == "这是您的活动签到码"
    assert fake.uploads == [("code.png", PNG)]
    assert fake.images_to(XIAOLI) == ["MEDIA-1"]
    assert fake.texts_to(XIAOLI) == []


async def test_a_model_worker_gets_the_qr_of_their_code_on_wechat(
    settings: Settings, app: App
) -> None:
    from tests.handlers.test_benefits import load_demo
    from tests.handlers.test_model_workers import WANG_ID

    await load_demo(app)
    fake = FakeWeChat()
    async with wechat_bot(settings, fake) as (_, channel, base, _):
        wechat = WeChatServer(base)
        await wechat.says("o-laomo", "/claim")
        await wechat.says("o-laomo", "王建明")
        await wechat.says("o-laomo", WANG_ID)
        code = await wechat.says("o-laomo", "/code")
        await channel.idle()
        await wechat.close()
    assert code is not None and re.search(r"劳模码：\d{10}", code), code
    [(name, content)] = fake.uploads
    assert name.endswith(".png") and content.startswith(b"\x89PNG\r\n\x1a\n")
    assert fake.images_to("o-laomo") == ["MEDIA-1"]


async def test_a_proactive_image_goes_after_its_text_and_is_uploaded_once(
    settings: Settings, tmp_path: Path
) -> None:
    image = png_file(tmp_path)
    fake = FakeWeChat()
    async with wechat_bot(settings, fake) as (app, channel, _, _):
        await make_member(app, channel, "o-1")
        await make_member(app, channel, "o-2")
        await channel.send("o-1", Outgoing("工会通知：见图", image=image))
        await channel.send("o-2", Outgoing("工会通知：见图", image=image))
    assert fake.uploads == [("code.png", PNG)]
    assert [(m["touser"], m["msgtype"]) for m in fake.sent] == [
        ("o-1", "text"),
        ("o-1", "image"),
        ("o-2", "text"),
        ("o-2", "image"),
    ]
    assert fake.images_to("o-1") == fake.images_to("o-2") == ["MEDIA-1"]
    assert fake.texts_to("o-2") == ["工会通知：见图"]


async def test_an_image_upload_renews_a_rejected_token(settings: Settings, tmp_path: Path) -> None:
    fake = FakeWeChat()
    async with wechat_bot(settings, fake) as (app, channel, _, _):
        await make_member(app, channel, "o-1")
        await channel.api.send_text("o-1", "first")
        fake.revoked.add("TOKEN-1")
        await channel.send("o-1", Outgoing("见图", image=png_file(tmp_path)))
    assert fake.tokens_issued == ["TOKEN-1", "TOKEN-2"]
    assert fake.uploads == [("code.png", PNG)]
    assert fake.images_to("o-1") == ["MEDIA-1"]


async def test_a_refused_upload_still_delivers_the_text_and_is_logged(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    image = png_file(tmp_path)
    fake = FakeWeChat(refuse_uploads=40009)
    with caplog.at_level("ERROR"):
        async with wechat_bot(settings, fake, [image_router(image)]) as (app, channel, base, _):
            await make_member(app, channel, "o-1")
            await channel.send("o-1", Outgoing("工会通知：见图", image=image))
            wechat = WeChatServer(base)
            reply = await wechat.says(XIAOLI, "/qr")
            await channel.idle()
            await wechat.close()
            kept = await inbox(app)
    assert fake.texts_to("o-1") == ["工会通知：见图"]
    assert reply == "这是您的活动签到码"
    assert fake.uploads == [] and fake.images_to("o-1") == fake.images_to(XIAOLI) == []
    assert kept == []
    assert caplog.text.count("WeChat API error 40009") == 2


async def test_a_missing_or_non_image_file_sends_the_text_alone(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gone = str(tmp_path / "gone.png")
    secret = tmp_path / "settings.env"
    secret.write_text("UNIONBOT_WECHAT_APP_SECRET=app-secret\n")
    fake = FakeWeChat()
    with caplog.at_level("ERROR"):
        async with wechat_bot(settings, fake, [image_router(gone)]) as (app, channel, base, _):
            await make_member(app, channel, "o-1")
            await channel.send("o-1", Outgoing("工会通知：见图", image=gone))
            await channel.send("o-1", Outgoing("不是图片的文件不上传", image=str(secret)))
            wechat = WeChatServer(base)
            reply = await wechat.says(XIAOLI, "/qr")
            await channel.idle()
            await wechat.close()
    assert fake.texts_to("o-1") == ["工会通知：见图", "不是图片的文件不上传"]
    assert reply == "这是您的活动签到码"
    assert fake.uploads == [] and fake.images_to("o-1") == fake.images_to(XIAOLI) == []
    assert caplog.text.count(f"image {gone} not found; sending the text alone") == 2
    assert f"image {secret} is not a PNG, JPEG or GIF image; sending" in caplog.text


async def test_outside_the_window_an_image_waits_in_the_inbox_with_its_text(
    settings: Settings, tmp_path: Path
) -> None:
    image = png_file(tmp_path)
    fake = FakeWeChat()
    async with wechat_bot(settings, fake, wechat_template_id="TPL1") as (app, channel, base, _):
        await make_member(app, channel, "o-away")
        await age(app, "o-away", days=3)
        await channel.send("o-away", Outgoing("工会通知：见图", image=image))
        kept = await inbox(app)
        sent_while_away = list(fake.sent)
        await age(app, "o-away", days=0)
        wechat = WeChatServer(base)
        shown = await wechat.says("o-away", "/inbox")
        await channel.idle()
        await wechat.close()
    assert [t["data"]["content"]["value"] for t in fake.templates] == ["工会通知：见图"]
    assert sent_while_away == []
    assert kept == [("template", "工会通知：见图")]
    assert shown is not None and "工会通知：见图" in shown
    assert fake.uploads == [("code.png", PNG)]
    assert fake.images_to("o-away") == ["MEDIA-1"]
