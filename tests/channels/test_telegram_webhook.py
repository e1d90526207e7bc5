"""``unionbot serve``'s Telegram webhook, start-up with a bad token, and ``unionbot run``
as a real process against the fake Bot API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.app import App
from bot.channels.base import StartFailed
from bot.channels.telegram import SECRET_HEADER, WEBHOOK_BODY_LIMIT, TelegramChannel
from tests.channels.conftest import WEBHOOK_SECRET, telegram_settings
from tests.channels.fake_telegram import FakeTelegram
from tests.test_cli import UNIONBOT
from unionbot.web import create_web_app

XIAOMING = 1001


@pytest.fixture
async def webhook(app: App, fake: FakeTelegram) -> AsyncIterator[httpx.AsyncClient]:
    settings = telegram_settings(app.settings, fake).model_copy(
        update={"telegram_webhook_url": "https://bot.example.org/telegram"}
    )
    channel = TelegramChannel(app.dispatcher, settings)
    app.outbox.attach(channel)
    await channel.start(webhook=True)
    web = create_web_app(app, [channel])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(web), base_url="http://bot"
    ) as client:
        yield client
    await channel.stop()


async def post(
    client: httpx.AsyncClient, update: dict[str, Any], secret: str | None = WEBHOOK_SECRET
) -> httpx.Response:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return await client.post("/telegram", json=update, headers=headers)


async def test_serving_sets_the_webhook_with_its_secret(
    fake: FakeTelegram, webhook: httpx.AsyncClient
) -> None:
    assert fake.webhook is not None
    assert fake.webhook["url"] == "https://bot.example.org/telegram"
    assert fake.webhook["secret_token"] == WEBHOOK_SECRET
    assert fake.calls_of("getUpdates") == []


async def test_an_update_posted_with_the_secret_is_answered(
    app: App, fake: FakeTelegram, webhook: httpx.AsyncClient
) -> None:
    response = await post(webhook, fake.message_update(XIAOMING, "/start"))
    assert response.status_code == 200
    [menu] = fake.events_in(XIAOMING)
    assert menu.text == app.dispatcher.translations["zh_CN"]("menu.title")


@pytest.mark.parametrize("secret", [None, "", "wrong", WEBHOOK_SECRET + "x"])
async def test_an_update_without_the_right_secret_is_refused(
    fake: FakeTelegram, webhook: httpx.AsyncClient, secret: str | None
) -> None:
    response = await post(webhook, fake.message_update(XIAOMING, "/start"), secret)
    assert response.status_code == 403
    assert fake.events_in(XIAOMING) == []


async def test_only_json_updates_of_bounded_size_are_taken(
    fake: FakeTelegram, webhook: httpx.AsyncClient
) -> None:
    headers = {SECRET_HEADER: WEBHOOK_SECRET}
    form = await webhook.post("/telegram", data={"update_id": "1"}, headers=headers)
    assert form.status_code == 415
    json_headers = {**headers, "content-type": "application/json"}
    huge = b'{"update_id": 1, "x": "' + b"a" * WEBHOOK_BODY_LIMIT + b'"}'
    assert (await webhook.post("/telegram", content=huge, headers=json_headers)).status_code == 413
    broken = await webhook.post("/telegram", content=b"{not json", headers=json_headers)
    assert broken.status_code == 400
    listed = await webhook.post("/telegram", content=b"[1, 2]", headers=json_headers)
    assert listed.status_code == 400
    assert fake.events_in(XIAOMING) == []


async def test_serving_without_a_webhook_secret_stops_start_up(
    app: App, fake: FakeTelegram
) -> None:
    settings = telegram_settings(app.settings, fake).model_copy(
        update={"telegram_webhook_secret": None}
    )
    with pytest.raises(StartFailed, match="UNIONBOT_TELEGRAM_WEBHOOK_SECRET"):
        await TelegramChannel(app.dispatcher, settings).start(webhook=True)


async def test_a_token_the_api_rejects_stops_start_up(app: App, fake: FakeTelegram) -> None:
    settings = telegram_settings(app.settings, fake).model_copy(
        update={"telegram_token": "999:wrong"}
    )
    channel = TelegramChannel(app.dispatcher, settings)
    with pytest.raises(StartFailed, match="rejected UNIONBOT_TELEGRAM_TOKEN"):
        await channel.start(webhook=False)
    await channel.stop()


async def unionbot_run(
    database_url: str, fake: FakeTelegram, token: str, *args: str, **env: str
) -> asyncio.subprocess.Process:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("UNIONBOT_")}
    environment.update(
        UNIONBOT_DATABASE_URL=database_url,
        UNIONBOT_TELEGRAM_TOKEN=token,
        UNIONBOT_TELEGRAM_API_URL=fake.url,
        **env,
    )
    return await asyncio.create_subprocess_exec(
        UNIONBOT,
        *(args or ("run",)),
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_unionbot_run_with_a_rejected_token_says_so_in_one_line(
    database_url: str, fake: FakeTelegram
) -> None:
    process = await unionbot_run(database_url, fake, "999:wrong")
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    [line] = [x for x in stderr.decode().splitlines() if x.startswith("unionbot:")]
    assert "rejected UNIONBOT_TELEGRAM_TOKEN" in line


async def test_unionbot_run_serves_members_by_polling(
    database_url: str, fake: FakeTelegram
) -> None:
    process = await unionbot_run(database_url, fake, fake.token)
    try:
        update = fake.message_update(XIAOMING, "/start", language="en")
        [menu] = await asyncio.wait_for(fake.exchange(update), 60)
        assert {"me", "help", "lang"} <= set(menu.payloads())
        assert json.dumps(fake.commands["en"])
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert "Telegram @union_test_bot: polling" in stderr.decode()
    assert fake.token.split(":")[1] not in stderr.decode(), "the token leaked into the log"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_unionbot_serve_takes_webhook_posts_over_http(
    app: App, database_url: str, fake: FakeTelegram
) -> None:
    port = free_port()
    process = await unionbot_run(
        database_url,
        fake,
        fake.token,
        "serve",
        "--port",
        str(port),
        UNIONBOT_TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        UNIONBOT_TELEGRAM_WEBHOOK_URL="https://bot.example.org/telegram",
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            async with asyncio.timeout(60):
                while True:
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get("/healthz")).status_code == 200:
                            break
                    await asyncio.sleep(0.2)
            health = (await client.get("/healthz")).json()
            assert health == {"status": "ok"}
            update = fake.message_update(XIAOMING, "/start")
            refused = await client.post("/telegram", json=update)
            assert refused.status_code == 403
            headers = {SECRET_HEADER: WEBHOOK_SECRET}
            taken = await client.post("/telegram", json=update, headers=headers)
            assert taken.status_code == 200
        [menu] = fake.events_in(XIAOMING)
        assert menu.text == app.dispatcher.translations["zh_CN"]("menu.title")
        assert fake.webhook is not None
        assert fake.webhook["secret_token"] == WEBHOOK_SECRET
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.communicate(), 60)


async def test_a_webhook_url_telegram_refuses_stops_start_up(app: App, fake: FakeTelegram) -> None:
    settings = telegram_settings(app.settings, fake).model_copy(
        update={"telegram_webhook_url": "http://not-https.example.org/telegram"}
    )
    fake.fail_next("setWebhook", "bad_request")
    channel = TelegramChannel(app.dispatcher, settings)
    with pytest.raises(StartFailed, match="UNIONBOT_TELEGRAM_WEBHOOK_URL"):
        await channel.start(webhook=True)
    await channel.stop()


async def test_a_form_started_under_one_unionbot_run_finishes_under_the_next(
    app: App, database_url: str, fake: FakeTelegram
) -> None:
    zh = app.dispatcher.translations["zh_CN"]
    first = await unionbot_run(database_url, fake, fake.token)
    try:
        await asyncio.wait_for(fake.say(XIAOMING, "/me"), 60)
        [ask_town] = await asyncio.wait_for(fake.say(XIAOMING, "王小明"), 60)
        assert ask_town.text.startswith(zh("me.ask_town"))
    finally:
        first.send_signal(signal.SIGINT)
        await asyncio.wait_for(first.communicate(), 60)

    second = await unionbot_run(database_url, fake, fake.token)
    try:
        [ask_enterprise] = await asyncio.wait_for(fake.say(XIAOMING, "坎墩街道"), 60)
        assert ask_enterprise.text.startswith(zh("me.ask_enterprise"))
        [ask_number] = await asyncio.wait_for(fake.press(XIAOMING, ask_enterprise, "f:skip"), 60)
        [summary] = await asyncio.wait_for(fake.press(XIAOMING, ask_number, "f:skip"), 60)
        [saved] = await asyncio.wait_for(fake.press(XIAOMING, summary, "f:ok"), 60)
        assert saved.text == zh("me.saved")
    finally:
        second.send_signal(signal.SIGINT)
        await asyncio.wait_for(second.communicate(), 60)
