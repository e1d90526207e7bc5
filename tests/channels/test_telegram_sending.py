"""Messages to members who did not just write: paced, retried after a 429, stopped by a
403 until the member writes again; long texts split, images sent as photos."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select
from telegram.error import BadRequest
from telegram.request import HTTPXRequest

from bot.app import App
from bot.channels.base import RateLimited, RecipientBlocked, TemporaryFailure
from bot.channels.telegram import TelegramChannel
from bot.messages import Button, Outgoing, rows
from storage import members
from storage.models import Identity, QueuedMessage
from tests.channels.conftest import telegram_settings
from tests.channels.fake_telegram import FakeTelegram

XIAOMING = 1001
XIAOLI = 1002


async def member_id(app: App, user: int) -> int:
    async with app.sessions() as session:
        member = await members.find_member(session, f"telegram:{user}")
    assert member is not None
    return member.id


async def identity_active(app: App, user: int) -> bool:
    async with app.sessions() as session:
        active = await session.scalar(
            select(Identity.active).where(
                Identity.channel == "telegram", Identity.external_id == str(user)
            )
        )
    assert active is not None
    return active


def notice(text: str) -> Outgoing:
    return Outgoing(text, rows([Button("查看", "menu")]))


async def test_a_429_is_waited_out_and_the_message_sent_once(
    app: App, fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    await fake.say(XIAOMING, "/start")
    fake.fail_next("sendMessage", "retry_after", retry_after=1)
    await app.messenger.deliver([(await member_id(app, XIAOMING), lambda t: notice("明晚联谊"))])
    delivered = [e.text for e in fake.events_in(XIAOMING)][1:]
    assert delivered == ["明晚联谊"]
    attempts = [c["text"] for c in fake.calls_of("sendMessage") if c["text"] == "明晚联谊"]
    assert len(attempts) == 2


async def test_a_member_who_blocked_the_bot_is_skipped_until_they_write_again(
    app: App, fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    await fake.say(XIAOMING, "/start")
    await fake.say(XIAOLI, "/start")
    everyone = [await member_id(app, XIAOMING), await member_id(app, XIAOLI)]
    fake.blocked.add(XIAOMING)

    await app.messenger.deliver([(m, lambda t: notice("第一次通知")) for m in everyone])
    assert not await identity_active(app, XIAOMING)
    assert [e.text for e in fake.events_in(XIAOLI)][-1] == "第一次通知"

    tries_before = len([c for c in fake.calls_of("sendMessage") if c["chat_id"] == str(XIAOMING)])
    await app.messenger.deliver([(m, lambda t: notice("第二次通知")) for m in everyone])
    tries_after = len([c for c in fake.calls_of("sendMessage") if c["chat_id"] == str(XIAOMING)])
    assert tries_after == tries_before
    assert [e.text for e in fake.events_in(XIAOLI)][-1] == "第二次通知"
    async with app.sessions() as session:
        assert await session.scalar(select(QueuedMessage.id)) is None

    fake.blocked.discard(XIAOMING)
    await fake.say(XIAOMING, "/start")
    assert await identity_active(app, XIAOMING)
    await app.messenger.deliver([(everyone[0], lambda t: notice("第三次通知"))])
    assert fake.events_in(XIAOMING)[-1].text == "第三次通知"


async def test_a_dropped_connection_keeps_the_message_queued(
    app: App, fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    await fake.say(XIAOMING, "/start")
    fake.fail_next("sendMessage", "drop")
    await app.messenger.deliver([(await member_id(app, XIAOMING), lambda t: notice("工资协商"))])
    assert [e.text for e in fake.events_in(XIAOMING)][1:] == []
    assert await app.messenger.drain("telegram") == 1
    assert fake.events_in(XIAOMING)[-1].text == "工资协商"


async def test_a_message_telegram_refuses_is_dropped_not_retried_forever(
    app: App, fake: FakeTelegram, telegram: TelegramChannel, caplog: pytest.LogCaptureFixture
) -> None:
    await fake.say(XIAOMING, "/start")
    fake.fail_next("sendMessage", "bad_request")
    with caplog.at_level(logging.ERROR, logger="bot.delivery"):
        await app.messenger.deliver([(await member_id(app, XIAOMING), lambda t: notice("坏消息"))])
    assert await identity_active(app, XIAOMING)
    assert await app.messenger.drain("telegram") == 0
    assert len(fake.events_in(XIAOMING)) == 1
    assert "BadRequest: Message text is empty" in caplog.text


async def test_telegram_still_saying_slow_down_after_one_retry_raises_rate_limited(
    fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    await fake.say(XIAOMING, "/start")
    fake.fail_next("sendMessage", "retry_after", retry_after=1)
    fake.fail_next("sendMessage", "retry_after", retry_after=1)
    with pytest.raises(RateLimited) as limited:
        await telegram.send(str(XIAOMING), notice("明晚联谊"))
    assert limited.value.retry_after == 1
    assert [e.text for e in fake.events_in(XIAOMING)][1:] == []


async def test_a_rate_limited_message_is_queued_and_sent_once_later(
    app: App, fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    await fake.say(XIAOMING, "/start")
    fake.fail_next("sendMessage", "retry_after", retry_after=1)
    fake.fail_next("sendMessage", "retry_after", retry_after=1)
    await app.messenger.deliver([(await member_id(app, XIAOMING), lambda t: notice("明晚联谊"))])
    assert [e.text for e in fake.events_in(XIAOMING)][1:] == []
    assert await app.messenger.drain("telegram") == 1
    assert await app.messenger.drain("telegram") == 0
    assert [e.text for e in fake.events_in(XIAOMING)][1:] == ["明晚联谊"]


async def test_a_dropped_connection_is_a_temporary_failure(
    fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    await fake.say(XIAOMING, "/start")
    fake.fail_next("sendMessage", "drop")
    with pytest.raises(TemporaryFailure):
        await telegram.send(str(XIAOMING), notice("工资协商"))


async def test_a_timeout_is_a_temporary_failure(app: App, fake: FakeTelegram) -> None:
    impatient = TelegramChannel(
        app.dispatcher,
        telegram_settings(app.settings, fake),
        request=HTTPXRequest(read_timeout=0.2),
    )
    await impatient.start(webhook=True)
    try:
        fake.fail_next("sendMessage", "slow", retry_after=1)
        with pytest.raises(TemporaryFailure):
            await impatient.send(str(XIAOMING), notice("工资协商"))
    finally:
        await impatient.stop()


@pytest.mark.parametrize("kind", ["blocked", "chat_not_found"])
async def test_a_blocked_bot_or_a_gone_chat_is_reported_blocked(
    fake: FakeTelegram, telegram: TelegramChannel, kind: str
) -> None:
    fake.fail_next("sendMessage", kind)
    with pytest.raises(RecipientBlocked):
        await telegram.send(str(XIAOMING), notice("通知"))


async def test_a_message_telegram_refuses_raises_its_reason_once(
    fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    fake.fail_next("sendMessage", "bad_request")
    with pytest.raises(BadRequest, match="text is empty"):
        await telegram.send(str(XIAOMING), notice("坏消息"))
    assert len([c for c in fake.calls_of("sendMessage") if c["text"] == "坏消息"]) == 1


async def test_polling_carries_on_after_a_dropped_connection(
    fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    fake.fail_next("getUpdates", "drop")
    await fake.wait_for(lambda: not fake.faults["getUpdates"])
    [menu] = await fake.say(XIAOMING, "/start")
    assert menu.payloads()


async def test_a_long_text_is_split_on_line_boundaries_with_buttons_on_the_last_part(
    app: App, fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    await fake.say(XIAOMING, "/start")
    line = "坎墩街道职工联谊会报名须知。" * 10
    text = "\n".join(f"{n}. {line}" for n in range(60))
    await telegram.send(str(XIAOMING), notice(text))
    parts = fake.events_in(XIAOMING)[1:]
    assert len(parts) == 3
    assert all(len(p.text) <= 4096 for p in parts)
    assert "\n".join(p.text for p in parts) == text
    assert [p.payloads() for p in parts] == [[], [], ["menu"]]


async def test_an_image_goes_as_a_photo_with_its_text_and_buttons(
    app: App, fake: FakeTelegram, telegram: TelegramChannel, tmp_path: Path
) -> None:
    await fake.say(XIAOMING, "/start")
    qr = tmp_path / "qr.png"
    qr.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    message = Outgoing("签到码", rows([Button("打开", url="https://example.org/e/1")]), str(qr))
    await telegram.send(str(XIAOMING), message)
    [photo] = fake.events_in(XIAOMING)[1:]
    assert photo.method == "sendPhoto" and photo.photo
    assert photo.text == "签到码"
    assert photo.urls() == ["https://example.org/e/1"]


async def test_an_image_given_by_its_web_address_goes_as_that_photo(
    fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    """Officers' notices name images by web address; Telegram fetches them itself."""
    await fake.say(XIAOMING, "/start")
    await telegram.send(str(XIAOMING), Outgoing("拍卖公告", image="https://example.org/lot.jpg"))
    [photo] = fake.events_in(XIAOMING)[1:]
    assert (photo.method, photo.text) == ("sendPhoto", "拍卖公告")
    assert fake.calls_of("sendPhoto")[-1]["photo"] == "https://example.org/lot.jpg"


async def test_a_missing_image_still_sends_the_text(
    fake: FakeTelegram, telegram: TelegramChannel, tmp_path: Path
) -> None:
    await fake.say(XIAOMING, "/start")
    await telegram.send(str(XIAOMING), Outgoing("签到码", image=str(tmp_path / "gone.png")))
    [text] = fake.events_in(XIAOMING)[1:]
    assert (text.method, text.text) == ("sendMessage", "签到码")
