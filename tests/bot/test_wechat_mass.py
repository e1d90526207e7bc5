"""A notice to many WeChat followers goes by mass send, through the leader's sender and the
real channel against the fake WeChat API: batches of one language and at most 10,000, at
most 4 a month per follower (the 5th goes per member and is never refused), a call that
timed out after WeChat took it is never sent twice, and the finish event brings WeChat's
counts back; the officer sees the routes before confirming and in /broadcasts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from bot.app import App
from bot.broadcasting import expand_batch, expand_pending
from bot.channels.wechat import WeChatChannel
from bot.channels.wechat.api import WeChatApi, WeChatApiError
from bot.pacing import Pacer
from bot.sender import Sender
from bot.settings import Settings
from handlers.notices import send_notice
from storage import broadcasts, members, outbox, wechat_mass, wechat_quota
from storage.models import Broadcast, Delivery, Identity, Member, Notice
from storage.models.wechat import WechatInboxMessage, WechatMassSend
from storage.models.wechat_quota import WechatQuota
from storage.types import utcnow
from tests.conftest import Chat
from tests.handlers.test_notices import STANDARD, compose, load_demo
from tests.wechat_support import FakeWeChat, wechat_bot

NOON = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
"""12:00 in Shanghai."""


def fake_wechat() -> FakeWeChat:
    """The fake API, its clock at the tests' noon (its months are WeChat's)."""
    fake = FakeWeChat()
    fake.mass.clock = NOON.timestamp
    return fake


async def followers(app: App, count: int, language: str = "zh_CN", prefix: str = "o") -> list[str]:
    """WeChat followers who last wrote three days ago (no customer-service window)."""
    openids = [f"{prefix}-{language}-{n}" for n in range(count)]
    async with app.sessions() as session, session.begin():
        for openid in openids:
            identity, _ = await members.create_member(session, "wechat", openid, openid, language)
            identity.last_seen_at = NOON - timedelta(days=3)
    return openids


async def notify(app: App, title: str, now: datetime = NOON, *, written: bool = True) -> int:
    """A notice to everyone, written to the outbox by the leader; returns its broadcast's
    id."""
    async with app.sessions() as session, session.begin():
        notice = Notice(
            title=title,
            body="12月5日在街道文化站发放慰问品。",
            link="https://example.org/n",
            deadline=now + timedelta(days=10),
            audience="all",
        )
        session.add(notice)
        await session.flush()
        assert await send_notice(session, app, notice, now)
        broadcast = await broadcasts.recent_broadcasts(session, 1)
    if written:
        await expand_pending(app, clock=lambda: now)
    return broadcast[0].id


async def deliver(app: App, now: datetime = NOON) -> None:
    """The leader's sender, unpaced: each channel's bulk step, then per-member sends."""
    await Sender(app, {"wechat": Pacer(0)}, clock=lambda: now).send_all()


async def statuses(app: App, broadcast_id: int) -> dict[str, int]:
    """The broadcast's rows by status in the outbox, checked against its counters (which
    count a row ``sending`` as pending)."""
    async with app.sessions() as session:
        rows = await session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.broadcast_id == broadcast_id)
            .group_by(Delivery.status)
        )
        in_outbox = {status: n for status, n in rows}
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        tallied = await broadcasts.tallies(session, [broadcast_id])
        counted = broadcasts.by_status([broadcast], tallied)[broadcast_id]
    open_rows = in_outbox.get("pending", 0) + in_outbox.get("sending", 0)
    settled = {s: n for s, n in in_outbox.items() if s not in ("pending", "sending")}
    assert counted == settled | ({"pending": open_rows} if open_rows else {})
    return in_outbox


async def batches(app: App) -> list[WechatMassSend]:
    async with app.sessions() as session:
        return list(await session.scalars(select(WechatMassSend).order_by(WechatMassSend.id)))


async def test_a_notice_goes_by_mass_send_in_batches_of_one_language(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wechat_mass, "MASS_MAX", 3)
    fake = fake_wechat()
    async with wechat_bot(settings, fake) as (app, _, _, _):
        chinese = await followers(app, 5)
        english_ids = await followers(app, 2, "en")
        broadcast = await notify(app, "坎墩街道工会冬季送温暖")
        await deliver(app)
        counts = await statuses(app, broadcast)
        sent = await batches(app)
        async with app.sessions() as session:
            routes = set(await session.scalars(select(Delivery.route).distinct()))
    jobs = fake.mass.jobs
    assert [sorted(j["body"]["touser"]) for j in jobs] == [english_ids, chinese[:3], chinese[3:]]
    english, chinese_text = (j["body"]["text"]["content"] for j in jobs[:2])
    assert english.startswith("📢 坎墩街道工会冬季送温暖\n\n12月5日")
    assert '<a href="https://example.org/n">' in english
    assert english.endswith("Reply /notices to read notices in full and set deadline reminders.")
    assert chinese_text.endswith("回复 /notices 查看通知全文，可设截止提醒。")
    assert "回复 1" not in chinese_text  # no numbered options in a mass send
    assert counts == {"sent": 7}
    assert routes == {"mass"}
    assert [(b.batch, b.language, b.count, b.status) for b in sent] == [
        (1, "en", 2, "accepted"),
        (2, "zh_CN", 3, "accepted"),
        (3, "zh_CN", 2, "accepted"),
    ]
    assert len({b.clientmsgid for b in sent}) == 3
    assert fake.sent == [] and fake.templates == []


async def test_a_notice_waits_until_all_its_rows_are_written_then_goes_in_one_batch(
    settings: Settings,
) -> None:
    fake = fake_wechat()
    async with wechat_bot(settings, fake) as (app, _, _, _):
        await followers(app, 5)
        broadcast = await notify(app, "职工运动会报名", written=False)
        assert await expand_batch(app, size=3, clock=lambda: NOON)
        await deliver(app)
        halfway = await statuses(app, broadcast)
        await expand_pending(app, size=3, clock=lambda: NOON)
        await deliver(app)
        done = await statuses(app, broadcast)
    assert halfway == {"pending": 3}
    assert [len(job["body"]["touser"]) for job in fake.mass.jobs] == [5]
    assert done == {"sent": 5}


async def test_a_follower_alone_in_their_language_goes_per_member(settings: Settings) -> None:
    fake = fake_wechat()
    async with wechat_bot(settings, fake) as (app, _, _, _):
        await followers(app, 3)
        lone = await followers(app, 1, "en")
        await notify(app, "职工疗休养报名")
        await deliver(app)
        async with app.sessions() as session:
            kept = await session.scalar(select(func.count()).select_from(WechatInboxMessage))
    assert [sorted(j["body"]["touser"]) for j in fake.mass.jobs] == [
        [f"o-zh_CN-{n}" for n in range(3)]
    ]
    assert fake.mass.texts_to(lone[0]) == []
    assert kept == 1  # outside the window, no template: the lone follower's inbox


async def test_the_fifth_mass_send_in_a_month_goes_per_member_and_is_never_refused(
    settings: Settings,
) -> None:
    fake = fake_wechat()
    async with wechat_bot(settings, fake) as (app, _, _, _):
        openids = await followers(app, 3)
        for n in range(5):
            await notify(app, f"第{n + 1}期工会通知")
            await deliver(app)
        async with app.sessions() as session:
            kept = await session.scalar(select(func.count()).select_from(WechatInboxMessage))
            unsent = await session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.status != "sent")
            )
    assert len(fake.mass.calls) == len(fake.mass.jobs) == 4  # none refused (45028)
    for openid in openids:
        assert len(fake.mass.texts_to(openid)) == 4
        assert fake.mass.received[(openid, "202611")] == 4
    assert kept == 3  # the 5th notice: per member, here each one's inbox
    assert unsent == 0


async def test_the_allowance_is_counted_in_the_month_of_shanghai(settings: Settings) -> None:
    fake = fake_wechat()
    async with wechat_bot(settings, fake) as (app, _, _, _):
        openids = await followers(app, 2)
        for n in range(4):
            await notify(app, f"十一月通知{n}")
            await deliver(app)
        december = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 00:00 on 1 December there
        fake.mass.clock = december.timestamp
        await notify(app, "十二月通知", december)
        await deliver(app, december)
    assert len(fake.mass.jobs) == 5
    assert sorted(fake.mass.jobs[4]["body"]["touser"]) == openids


async def test_a_mass_send_that_timed_out_after_wechat_took_it_is_not_sent_twice(
    settings: Settings,
) -> None:
    fake = fake_wechat()
    fake.mass.stall = 1
    async with wechat_bot(settings, fake) as (app, channel, _, api_url):
        openids = await followers(app, 4)
        broadcast = await notify(app, "劳模工匠座谈会")
        impatient = httpx.AsyncClient(base_url=api_url, timeout=0.2)
        channel.mass.api = WeChatApi(app.settings, app.sessions, impatient)
        assert await channel.send_bulk(NOON) == 0  # no answer: in doubt
        assert await statuses(app, broadcast) == {"sending": 4}
        async with app.sessions() as session, session.begin():
            assert await outbox.settle_interrupted(session, NOON) == 0
        assert await channel.send_bulk(NOON + timedelta(seconds=30)) == 0  # waits a minute
        restarted = WeChatChannel(app)  # a new leader, without that memory
        app.outbox.attach(restarted)
        fake.mass.clock = lambda: NOON.timestamp() + 30
        await deliver(app, NOON + timedelta(seconds=30))  # 45066: too soon
        assert await statuses(app, broadcast) == {"sending": 4}
        fake.mass.clock = lambda: NOON.timestamp() + 61
        await deliver(app, NOON + timedelta(seconds=91))  # 45065: taken before
        counts = await statuses(app, broadcast)
        (sent,) = await batches(app)
        await restarted.api.close()
        await impatient.aclose()
    assert len(fake.mass.calls) == 3
    assert len(fake.mass.jobs) == 1
    assert {c["clientmsgid"] for c in fake.mass.calls} == {sent.clientmsgid}
    for openid in openids:
        assert len(fake.mass.texts_to(openid)) == 1
    assert counts == {"sent": 4}
    assert (sent.status, sent.msg_id) == ("accepted", fake.mass.jobs[0]["msg_id"])


async def test_a_refused_mass_send_falls_back_per_member_with_the_allowance_back(
    settings: Settings,
) -> None:
    fake = fake_wechat()
    async with wechat_bot(settings, fake) as (app, channel, _, _):
        openids = await followers(app, 2)
        fake.mass.received.update({(openids[0], "202611"): 4})  # sent from WeChat's own page
        broadcast = await notify(app, "职工书屋开放")
        assert await channel.send_bulk(NOON) == 2
        assert await statuses(app, broadcast) == {"pending": 2}
        await deliver(app)
        (refused,) = await batches(app)
        counts = await statuses(app, broadcast)
        async with app.sessions() as session:
            identity = await session.scalar(
                select(Identity.id).where(Identity.external_id == openids[1])
            )
            assert identity is not None
            left = await wechat_quota.with_mass_left(session, [identity], NOON)
    assert (refused.status, refused.reason) == ("refused", "45028")
    assert counts == {"sent": 2}
    assert left == [identity]  # its allowance given back
    assert len(fake.mass.jobs) == 0


async def test_the_finish_event_reconciles_wechats_counts(settings: Settings) -> None:
    fake = fake_wechat()
    async with wechat_bot(settings, fake) as (app, channel, _, _):
        openids = await followers(app, 5)
        fake.mass.filtered = {openids[0]}
        fake.mass.failing = {openids[1]}
        broadcast = await notify(app, "建德青荷对对联谊活动")
        await channel.send_bulk(NOON)
        (answer,) = await fake.mass.finish_jobs()
        fake.mass.jobs[0]["posted"] = False
        (again,) = await fake.mass.finish_jobs()  # WeChat's retry of the same event
        (batch,) = await batches(app)
        async with app.sessions() as session:
            figures = await wechat_mass.reconciled(session, [broadcast])
    assert answer.text == again.text == "success"
    assert (batch.status, batch.reason) == ("finished", "send success")
    assert (batch.total, batch.filtered, batch.sent, batch.errors) == (5, 4, 3, 1)
    assert figures[broadcast] == wechat_mass.Reconciled(
        batches=1, handed=5, sent=3, filtered_out=1, errors=1, pending=0
    )


async def test_the_fake_api_takes_two_to_ten_thousand_followers(settings: Settings) -> None:
    async with wechat_bot(settings, FakeWeChat()) as (_, channel, _, _):
        for openids in (["o-1"], [f"o-{n}" for n in range(10_001)]):
            with pytest.raises(WeChatApiError) as refused:
                await channel.api.call(
                    "/cgi-bin/message/mass/send",
                    {"touser": openids, "msgtype": "text", "text": {"content": "通知"}},
                )
            assert refused.value.errcode == 40130


async def test_the_officer_sees_how_a_notice_will_travel_before_confirming(
    settings: Settings,
) -> None:
    now = utcnow()
    async with wechat_bot(settings, fake_wechat()) as (app, _, _, _):
        await load_demo(app)
        await followers(app, 4)
        spent = [*await followers(app, 2, prefix="active"), *await followers(app, 3, "en", "idle")]
        async with app.sessions() as session, session.begin():
            await members.create_member(session, "telegram", "42", "小王", "zh_CN")
            for identity in await session.scalars(
                select(Identity).where(Identity.external_id.in_(spent))
            ):
                if identity.external_id.startswith("active"):
                    identity.last_seen_at = now - timedelta(hours=1)
                session.add(
                    WechatQuota(
                        identity_id=identity.id,
                        mass_month=wechat_quota.month_of(now),
                        mass_used=wechat_quota.MASS_PER_MONTH,
                    )
                )
            others = await session.scalar(
                select(func.count()).select_from(Identity).where(Identity.channel == "console")
            )
        officer = Chat(app, "officer")
        await compose(officer, [*STANDARD, {"press": "f:c:all:"}])
        *_, confirm = await officer.say("跳过")
        await officer.say("/cancel")
        async with app.sessions() as session, session.begin():
            await session.execute(update(Member).values(language="en"))
        await compose(officer, [*STANDARD, {"press": "f:c:all:"}])
        *_, confirming = await officer.say("skip")
    assert (
        f"预计送达：约 4 人群发、2 人客服消息、3 人进收件箱、1 人 Telegram、{others} 人其他渠道"
    ) in confirm["text"]
    assert (
        "How it will travel: about 4 by mass send, 2 by customer service, 3 to inboxes, "
        f"1 on Telegram, {others} on other channels"
    ) in confirming["text"]


async def test_broadcasts_show_what_wechat_reported_of_the_mass_send(settings: Settings) -> None:
    fake = fake_wechat()
    async with wechat_bot(settings, fake) as (app, channel, _, _):
        await load_demo(app)
        openids = await followers(app, 5)
        fake.mass.filtered = {openids[0]}
        fake.mass.failing = {openids[1]}
        broadcast = await notify(app, "建德青荷对对联谊活动")
        await channel.send_bulk(NOON)
        officer = Chat(app, "officer")
        before = await officer.text_of("/broadcasts")
        await fake.mass.finish_jobs()
        after = await officer.text_of("/broadcasts")
    waiting = f"#{broadcast} "
    assert waiting in before
    assert "群发 1 批共 5 人，微信回报：送达 0、被过滤 0、出错 0；1 批尚未回报" in before
    assert "群发 1 批共 5 人，微信回报：送达 3、被过滤 1、出错 1" in after
    assert "尚未回报" not in after


async def test_broadcasts_count_the_rows_by_route_and_outcome(settings: Settings) -> None:
    fake = fake_wechat()
    async with wechat_bot(settings, fake) as (app, _, _, _):
        await load_demo(app)
        await followers(app, 3)
        await followers(app, 1, "en")
        await notify(app, "职工疗休养报名")
        await deliver(app)
        shown = await Chat(app, "officer").text_of("/broadcasts")
    assert "送达方式：群发 3、收件箱 1\n" in shown


async def test_an_urgent_notice_is_forecast_by_template_within_the_days_quota(
    settings: Settings,
) -> None:
    async with wechat_bot(
        settings, fake_wechat(), wechat_template_id="TPL", wechat_template_quota=5
    ) as (app, _, _, _):
        await load_demo(app)
        await followers(app, 6)
        officer = Chat(app, "officer")
        await officer.say("/notice urgent")
        for answer in [*STANDARD, {"press": "f:c:all:"}]:
            await officer.say(answer)
        *_, urgent = await officer.say("跳过")
        await officer.say("/cancel")
        await compose(officer, [*STANDARD, {"press": "f:c:all:"}])
        *_, ordinary = await officer.say("跳过")
    assert "预计送达：约 5 人模板消息、1 人进收件箱、" in urgent["text"]
    assert "预计送达：约 6 人群发、" in ordinary["text"]
