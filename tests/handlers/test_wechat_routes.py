"""A WeChat member gets what others send them by the route WeChat's quotas allow, and the
delivery row says which and why. The fake API enforces the quotas, so every test also
proves that no call the bot makes is refused for quota and nothing is sent twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.app import App
from bot.broadcasting import expand_pending, publish
from bot.channels.wechat import WeChatChannel
from bot.delivery import MessageClass
from bot.i18n import Translator
from bot.messages import Button, Notification, Outgoing, rows
from bot.pacing import Pacer
from bot.sender import Sender
from bot.settings import Settings
from storage import members
from storage.models import Delivery, Identity
from storage.types import utcnow
from tests.wechat_support import FakeWeChat, WeChatServer, wechat_bot

WORKER = "o-worker"
OTHER = "o-other"


@asynccontextmanager
async def bot(
    settings: Settings, fake: FakeWeChat, **changes: Any
) -> AsyncIterator[tuple[App, WeChatChannel, WeChatServer]]:
    async with wechat_bot(settings, fake, **changes) as (app, channel, base, _):
        wechat = WeChatServer(base, fake=fake)
        try:
            yield app, channel, wechat
        finally:
            await wechat.close()


def quota_fake(**changes: Any) -> FakeWeChat:
    return FakeWeChat(quotas=True, **changes)


async def member_id(app: App, openid: str) -> int:
    async with app.sessions() as session:
        member = await members.member_by_identity(session, "wechat", openid)
    assert member is not None
    return member.id


def text(words: str, kind: Notification | None = None) -> Callable[[Translator], Outgoing]:
    return lambda t: Outgoing(words, kind=kind)


async def write(
    app: App,
    openid: str,
    *builds: Callable[[Translator], Outgoing],
    cls: MessageClass = MessageClass.INTERACTIVE,
) -> None:
    """Messages for the member from others, as handlers write them."""
    target = await member_id(app, openid)
    async with app.sessions() as session, session.begin():
        await app.outbox.write(session, [(target, build) for build in builds], cls, utcnow())


async def send_all(app: App) -> None:
    await Sender(app, {"wechat": Pacer(0)}).send_all()


async def routes(app: App) -> list[tuple[str, str | None, str | None]]:
    async with app.sessions() as session:
        found = await session.execute(
            select(Delivery.status, Delivery.route, Delivery.route_reason).order_by(Delivery.id)
        )
        return [(status, route, reason) for status, route, reason in found]


async def age(app: App, fake: FakeWeChat, openid: str, hours: float) -> None:
    """Move what the member did ``hours`` into the past, for the bot and for WeChat."""
    fake.age(openid, hours * 3600)
    async with app.sessions() as session, session.begin():
        identity = await session.scalar(select(Identity).where(Identity.external_id == openid))
        assert identity is not None
        identity.last_seen_at -= timedelta(hours=hours)


def cs(left: int, of: int = 5) -> tuple[str, str, str]:
    window = "48 h window" if of == 5 else "1 min after an event"
    return ("sent", "customer_service", f"customer_service: {left} of {of} left in {window}")


async def test_five_in_the_window_then_the_template_then_the_inbox(settings: Settings) -> None:
    fake = quota_fake(template_quota=1)
    changes = {"wechat_template_id": "TPL-DEFAULT", "wechat_template_quota": 1}
    async with bot(settings, fake, **changes) as (app, _, wechat):
        await wechat.says(WORKER, "你好")
        await write(app, WORKER, *(text(f"通知 {n}") for n in range(7)))
        await send_all(app)
        shown = await wechat.says(WORKER, "/inbox")
        recorded = await routes(app)
    assert recorded == [
        *(cs(left) for left in (4, 3, 2, 1, 0)),
        ("sent", "template", "template: default template, 0 left today"),
        (
            "sent",
            "inbox",
            "inbox: 5 of 5 used in 48 h window, template quota used up today",
        ),
    ]
    assert fake.texts_to(WORKER) == [f"通知 {n}" for n in range(5)]
    assert [t["data"]["content"]["value"] for t in fake.templates] == ["通知 5"]
    assert fake.refused_calls == []
    assert shown is not None and "通知 6" in shown


async def test_a_new_message_opens_a_new_window(settings: Settings) -> None:
    fake = quota_fake()
    async with bot(settings, fake) as (app, _, wechat):
        await wechat.says(WORKER, "你好")
        await write(app, WORKER, *(text(f"通知 {n}") for n in range(6)))
        await send_all(app)
        await age(app, fake, WORKER, hours=1)
        await wechat.says(WORKER, "我回来了")
        await write(app, WORKER, text("又一条通知"))
        await send_all(app)
        recorded = await routes(app)
    assert recorded[5] == (
        "sent",
        "inbox",
        "inbox: 5 of 5 used in 48 h window, no template for this message",
    )
    assert recorded[6] == cs(4)
    assert fake.texts_to(WORKER)[-1] == "又一条通知"
    assert fake.refused_calls == []


async def test_after_48_hours_the_window_is_closed(settings: Settings) -> None:
    fake = quota_fake()
    async with bot(settings, fake, wechat_templates={"reminder": "TPL-R"}) as (app, _, wechat):
        await wechat.says(WORKER, "你好")
        await age(app, fake, WORKER, hours=48)
        await write(app, WORKER, text("报名截止提醒"), cls=MessageClass.REMINDER)
        await write(app, WORKER, text("会议通知"))
        await send_all(app)
        recorded = await routes(app)
    assert recorded == [
        ("sent", "template", "template: reminder template, 99999 left today"),
        ("sent", "inbox", "inbox: window closed, no template for this message"),
    ]
    assert [t["template_id"] for t in fake.templates] == ["TPL-R"]
    assert fake.texts_to(WORKER) == []
    assert fake.refused_calls == []


async def test_a_follow_allows_three_messages_in_the_minute(settings: Settings) -> None:
    fake = quota_fake()
    async with bot(settings, fake) as (app, _, wechat):
        welcome = wechat.reply_text(await wechat.event(WORKER, "subscribe"))
        await write(app, WORKER, *(text(f"欢迎 {n}") for n in range(4)))
        await send_all(app)
        recorded = await routes(app)
        shown = await wechat.says(WORKER, "/inbox")
    assert welcome is not None
    assert recorded == [
        cs(2, of=3),
        cs(1, of=3),
        cs(0, of=3),
        ("sent", "inbox", "inbox: window closed, no template for this message"),
    ]
    assert fake.refused_calls == []
    assert shown is not None and "欢迎 3" in shown


async def test_a_menu_click_adds_its_minute_to_the_members_window(settings: Settings) -> None:
    fake = quota_fake()
    async with bot(settings, fake) as (app, _, wechat):
        await wechat.says(WORKER, "你好")
        await age(app, fake, WORKER, hours=3)
        clicked = await wechat.event(WORKER, "CLICK", "bn", created=int(time.time()))
        await write(app, WORKER, *(text(f"通知 {n}") for n in range(9)))
        await send_all(app)
        recorded = await routes(app)
    assert wechat.reply_text(clicked) is not None
    assert recorded == [
        cs(2, of=3),
        cs(1, of=3),
        cs(0, of=3),
        *(cs(left) for left in (4, 3, 2, 1, 0)),
        ("sent", "inbox", "inbox: 5 of 5 used in 48 h window, no template for this message"),
    ]
    assert len(fake.texts_to(WORKER)) == 8
    assert fake.refused_calls == []


async def test_two_sends_at_once_never_both_take_the_last_message(settings: Settings) -> None:
    fake = quota_fake()
    async with bot(settings, fake) as (_, channel, wechat):
        await wechat.says(WORKER, "你好")
        for n in range(4):
            await channel.send(WORKER, Outgoing(f"通知 {n}"))
        last = await asyncio.gather(*(channel.send(WORKER, Outgoing("最后一条")) for _ in range(3)))
    assert sorted(routed.route for routed in last if routed) == [
        "customer_service",
        "inbox",
        "inbox",
    ]
    assert fake.texts_to(WORKER).count("最后一条") == 1
    assert fake.refused_calls == []


async def test_a_busy_wechat_gives_its_message_back_for_the_retry(settings: Settings) -> None:
    fake = quota_fake(refuse_once={WORKER: [-1]})
    async with bot(settings, fake) as (app, _, wechat):
        await wechat.says(WORKER, "你好")
        await write(app, WORKER, *(text(f"通知 {n}") for n in range(5)))
        later = [utcnow()]
        sender = Sender(app, {"wechat": Pacer(0)}, clock=lambda: later[0])
        await sender.send_all()
        later[0] += timedelta(minutes=5)
        await sender.send_all()
        recorded = await routes(app)
    assert [route for _, route, _ in recorded] == ["customer_service"] * 5
    assert sorted(fake.texts_to(WORKER)) == [f"通知 {n}" for n in range(5)]
    assert fake.refused_calls == [("custom", WORKER, -1)]


async def test_the_accounts_template_quota_ends_at_its_edge(settings: Settings) -> None:
    fake = quota_fake(template_quota=2)
    templates = {"reminder": "TPL-R"}
    changes = {"wechat_templates": templates, "wechat_template_quota": 2}
    async with bot(settings, fake, **changes) as (app, _, wechat):
        for openid in ("o-1", "o-2", "o-3"):
            await wechat.says(openid, "你好")
            await age(app, fake, openid, hours=49)
            await write(app, openid, text("活动明天开始"), cls=MessageClass.REMINDER)
        await send_all(app)  # the three in flight together: which one is last may vary
        recorded = await routes(app)
    assert sorted(recorded) == [
        ("sent", "inbox", "inbox: window closed, template quota used up today"),
        ("sent", "template", "template: reminder template, 0 left today"),
        ("sent", "template", "template: reminder template, 1 left today"),
    ]
    assert len({t["touser"] for t in fake.templates}) == 2
    assert fake.refused_calls == []


async def test_when_wechat_says_the_template_quota_is_reached_it_is_believed(
    settings: Settings,
) -> None:
    fake = quota_fake(template_quota=0)
    async with bot(settings, fake, wechat_template_id="TPL") as (app, _, wechat):
        for openid in ("o-1", "o-2"):
            await wechat.says(openid, "你好")
            await age(app, fake, openid, hours=49)
            await write(app, openid, text("通知"))
            await send_all(app)  # one after the other: sends in flight together both try
        recorded = await routes(app)
    assert recorded == [
        ("sent", "inbox", "inbox: window closed, template refused (45009)"),
        ("sent", "inbox", "inbox: window closed, template quota used up today"),
    ]
    assert fake.refused_calls == [("template", "o-1", 45009)]


async def test_an_urgent_broadcast_prefers_the_template(settings: Settings) -> None:
    fake = quota_fake()
    templates = {"notice": "TPL-NOTICE"}
    async with bot(settings, fake, wechat_templates=templates) as (app, _, wechat):
        await wechat.says(WORKER, "你好")
        await wechat.says(OTHER, "你好")
        ids = [await member_id(app, WORKER), await member_id(app, OTHER)]
        async with app.sessions() as session, session.begin():

            def notice(words: str) -> Callable[[Translator], Outgoing]:
                return lambda t: Outgoing(
                    words, rows([Button("详情", url="https://example.org/n/1")])
                )

            await publish(
                session,
                app.outbox,
                "test:urgent",
                [(ids[0], notice("停电通知"))],
                utcnow(),
                urgent=True,
            )
            await publish(
                session, app.outbox, "test:plain", [(ids[1], notice("活动通知"))], utcnow()
            )
        await send_all(app)
        recorded = await routes(app)
    assert recorded == [
        ("sent", "template", "template: notice template, 99999 left today"),
        cs(4),
    ]
    [template] = fake.templates
    assert template["template_id"] == "TPL-NOTICE"
    assert template["url"] == "https://example.org/n/1"
    assert template["data"] == {"title": {"value": "停电通知"}, "content": {"value": "停电通知"}}
    assert fake.texts_to(WORKER) == []
    assert fake.texts_to(OTHER)[0].startswith("活动通知")
    assert fake.refused_calls == []


async def test_each_kind_goes_by_its_own_template(settings: Settings) -> None:
    fake = quota_fake()
    templates = {"introduction": "TPL-I", "ballot_closing": "TPL-B"}
    async with bot(settings, fake, wechat_templates=templates, wechat_template_id="TPL") as (
        app,
        _,
        wechat,
    ):
        await wechat.says(WORKER, "你好")
        await age(app, fake, WORKER, hours=49)
        await write(
            app,
            WORKER,
            text("有人想认识您", Notification.INTRODUCTION),
            text("投票结果", Notification.BALLOT_CLOSING),
            text("会议马上开始", Notification.MEETING_STARTING),
        )
        await send_all(app)
        recorded = await routes(app)
    assert [t["template_id"] for t in fake.templates] == ["TPL-I", "TPL-B", "TPL"]
    assert [reason for _, _, reason in recorded] == [
        "template: introduction template, 99999 left today",
        "template: ballot_closing template, 99998 left today",
        "template: meeting_starting template, 99997 left today",
    ]


async def test_an_officers_urgent_notice_reaches_wechat_members_by_template(
    settings: Settings,
) -> None:
    from storage.seed import demo_files, import_file
    from tests.conftest import Chat

    fake = quota_fake()
    async with bot(settings, fake, wechat_templates={"notice": "TPL-NOTICE"}) as (app, _, wechat):
        async with app.sessions() as session, session.begin():
            for path in demo_files():
                await import_file(session, path)
        await wechat.says(WORKER, "你好")
        await wechat.says(OTHER, "你好")
        officer = Chat(app, "officer")
        await officer.say("/notice 紧急")
        for answer in ["停电通知", "明天上午9点到12点停电。", "跳过", "跳过", "跳过"]:
            await officer.say(answer)
        await officer.say({"press": "f:c:all:"})
        await officer.say("跳过")
        await officer.say({"press": "f:ok"})
        await expand_pending(app)  # the leader writes the notice's rows
        await send_all(app)
        recorded = [r for r in await routes(app) if r[1] is not None]
    assert [route for _, route, _ in recorded] == ["template", "template"]
    assert sorted(t["touser"] for t in fake.templates) == sorted([WORKER, OTHER])
    assert {t["template_id"] for t in fake.templates} == {"TPL-NOTICE"}
    assert fake.texts_to(WORKER) == [] and fake.texts_to(OTHER) == []
    assert fake.refused_calls == []


async def test_the_rest_of_a_long_reply_counts_against_the_window(settings: Settings) -> None:
    from bot.context import Context
    from bot.router import Router

    router = Router("test-long")

    @router.command("long")
    async def long(ctx: Context) -> None:
        ctx.reply("\n".join(f"第 {n} 行：职工服务平台为您服务" for n in range(150)))

    fake = quota_fake()
    async with wechat_bot(settings, fake, [router]) as (app, channel, base, _):
        wechat = WeChatServer(base, fake=fake)
        first = await wechat.says(WORKER, "/long")
        await channel.idle()
        rest = len(fake.texts_to(WORKER))
        await write(app, WORKER, *(text(f"通知 {n}") for n in range(5 - rest + 1)))
        await send_all(app)
        recorded = await routes(app)
        await wechat.close()
    assert first is not None and 1 <= rest < 5
    assert [route for _, route, _ in recorded] == [
        *["customer_service"] * (5 - rest),
        "inbox",
    ]
    assert fake.refused_calls == []
