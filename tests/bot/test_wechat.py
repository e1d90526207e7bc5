"""The WeChat webhook as WeChat's servers use it, over real HTTP: signatures, the three
message modes with WeChat's own published samples, refusals, retries, the 5-second rule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import xmltodict
from sqlalchemy import func, select
from wechatpy.crypto import WeChatCrypto

from bot.context import Context
from bot.router import Router
from bot.settings import Settings
from storage.models import Member
from storage.models.wechat import WechatInboxMessage
from tests.wechat_support import (
    AES_KEY,
    APP_ID,
    TOKEN,
    FakeWeChat,
    WeChatServer,
    message_xml,
    sign,
    wechat_bot,
)

OPENID = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"

# WeChat's published message-encryption samples (token "spamtest", the key and app id in
# tests.wechat_support): a safe-mode message and a compatible-mode one.
SAFE_SAMPLE = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA["
    "mfBCs65c67CeJw22u4VT2TD73q5H06+ocrAIxswCaeZ/d/Lw0msSZFHY0teqgSYiI1zR2gD2DKrB3TIrmX/liNSDrGq"
    "S8jSI/WPeKB5VPr7Ezr7gomZAyGCwJSgT1TRFWPfONGJMxuj2nk4faTuspAuVIFQ6SHwZuJBZC7mcJp7Cgr9cUhATQW"
    "DbOPaE7ukZBTV2YqyzH+UI2AK+J1S47cE79k1RX8t0hcTz/O0hlK8DGXKnvYv88qKQcI7z4iaajqHfRVZKBNyOODabs"
    "+It+ZfM3dWTeFcPgDbGtIEnpt/EDtuuA/zMvtkaKdHdswPnVZQ+xdwbYr3ldGvfT8HlEYEgkgKaThxTFobVlwzu2ZkX"
    "CjicbP3xdr15Iq48ObgzPpqYuZ3IEoyggZDKClquk0u0orMck4GTF/XyE8yGzc4=]]></Encrypt></xml>"
)
SAFE_QUERY = {
    "timestamp": "1410349438",
    "nonce": "298025754",
    "msg_signature": "003fee52ecc56afb46c00b5c7721be87860ce785",
}
COMPATIBLE_SAMPLE = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA["
    "oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName><CreateTime>1409735668</CreateTime><MsgType>"
    "<![CDATA[text]]></MsgType><Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728"
    "</MsgId><Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+L"
    "rPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41"
    "IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6K"
    "WwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1D"
    "lD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=]]"
    "></Encrypt></xml>"
)
COMPATIBLE_QUERY = {
    "timestamp": "1409735669",
    "nonce": "1320562132",
    "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
}


def sample_query(query: dict[str, str]) -> dict[str, str]:
    return {
        **query,
        "signature": sign(TOKEN, query["timestamp"], query["nonce"]),
        "encrypt_type": "aes",
    }


def decrypt_reply(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    outer = xmltodict.parse(response.text)["xml"]
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    plain = crypto.decrypt_message(
        response.text, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"]
    )
    reply: dict[str, str] = xmltodict.parse(plain)["xml"]
    return reply


async def members_count(settings: Settings) -> int:
    from storage.db import create_engine, session_factory

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return await session.scalar(select(func.count(Member.id))) or 0
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("body", "query"), [(SAFE_SAMPLE, SAFE_QUERY), (COMPATIBLE_SAMPLE, COMPATIBLE_QUERY)]
)
async def test_wechats_published_samples_decrypt_and_the_encrypted_reply_decrypts_back(
    settings: Settings, body: str, query: dict[str, str]
) -> None:
    async with wechat_bot(settings, FakeWeChat()) as (_, _, base, _), httpx.AsyncClient() as client:
        response = await client.post(base + "/wechat", params=sample_query(query), content=body)
    reply = decrypt_reply(response)
    assert reply["ToUserName"] == OPENID
    assert reply["FromUserName"] == "gh_10f6c3c3ac5a"
    assert reply["MsgType"] == "text"
    assert reply["Content"].startswith("没听懂您的意思")
    assert reply["Content"].endswith("回复 1：主菜单")


async def test_url_verification_echoes_only_with_the_right_signature(settings: Settings) -> None:
    async with wechat_bot(settings, FakeWeChat()) as (_, _, base, _):
        server = WeChatServer(base)
        good = await server.client.get(server.url, params={**server.query(), "echostr": "42abc"})
        bad_query = {**server.query(), "signature": "0" * 40, "echostr": "42abc"}
        bad = await server.client.get(server.url, params=bad_query)
        await server.close()
    assert (good.status_code, good.text) == (200, "42abc")
    assert bad.status_code == 403
    assert "42abc" not in bad.text


async def test_a_bad_signature_is_refused_and_nothing_is_processed(settings: Settings) -> None:
    async with wechat_bot(settings, FakeWeChat()) as (_, _, base, _):
        wrong = WeChatServer(base, token="not-the-token")
        response = await wrong.text(OPENID, "你好")
        await wrong.close()
        tampered = WeChatServer(base)
        query = {**sample_query(SAFE_QUERY), "msg_signature": "0" * 40}
        forged = await tampered.post_raw(SAFE_SAMPLE, query)
        await tampered.close()
    assert response.status_code == 403
    assert forged.status_code == 403
    assert await members_count(settings) == 0


async def test_old_timestamps_are_refused_when_a_maximum_age_is_set(settings: Settings) -> None:
    async with wechat_bot(settings, FakeWeChat(), wechat_max_age=300) as (_, _, base, _):
        server = WeChatServer(base)
        response = await server.post_raw(SAFE_SAMPLE, sample_query(SAFE_QUERY))
        fresh = await server.text(OPENID, "你好")
        await server.close()
    assert response.status_code == 403
    assert fresh.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"<xml>" + b"<Content>a</Content>" * 4000 + b"</xml>",
        b"<xml><ToUserName>broken",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<xml><Content>&b;</Content></xml>",
        b'<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Encrypt>&xxe;</Encrypt></xml>',
        b"<xml><Nothing>here</Nothing></xml>",
    ],
    ids=["over-64kB", "malformed", "entity-expansion", "external-entity", "not-a-message"],
)
async def test_oversized_malformed_and_entity_bodies_get_400(
    settings: Settings, body: bytes
) -> None:
    async with wechat_bot(settings, FakeWeChat(), wechat_aes_key=None) as (_, _, base, _):
        server = WeChatServer(base, plain=True)
        response = await server.post_raw(body, server.query())
        await server.close()
    assert response.status_code == 400
    assert await members_count(settings) == 0


async def test_with_an_aes_key_unencrypted_messages_are_refused(settings: Settings) -> None:
    async with wechat_bot(settings, FakeWeChat()) as (_, _, base, _):
        server = WeChatServer(base, plain=True)
        response = await server.text(OPENID, "你好")
        await server.close()
    assert response.status_code == 403


async def test_plain_mode_answers_passively(settings: Settings) -> None:
    async with wechat_bot(settings, FakeWeChat(), wechat_aes_key=None) as (_, _, base, _):
        server = WeChatServer(base, plain=True)
        text = await server.says(OPENID, "/help")
        await server.close()
    assert text is not None and "/menu" in text


def counting_router(calls: list[str], delay: float = 0.0) -> Router:
    router = Router("test-counting")

    @router.command("count")
    async def count(ctx: Context) -> None:
        calls.append(ctx.message.user_id)
        await asyncio.sleep(delay)
        ctx.reply(f"counted {len(calls)}")

    return router


async def test_a_retried_message_runs_its_handler_once(settings: Settings) -> None:
    calls: list[str] = []
    async with wechat_bot(settings, FakeWeChat(), [counting_router(calls, 0.2)]) as bot:
        server = WeChatServer(bot[2])
        responses = await asyncio.gather(
            *(server.text(OPENID, "/count", msg_id=777) for _ in range(3))
        )
        await server.close()
    assert calls == [OPENID]
    texts = [server.reply_text(r) for r in responses]
    assert texts.count("counted 1") == 1
    assert texts.count(None) == 2


async def test_a_retry_reaching_another_instance_is_not_run_again(settings: Settings) -> None:
    calls: list[str] = []
    router = counting_router(calls, 0.2)
    fake = FakeWeChat()
    async with (
        wechat_bot(settings, fake, [router]) as first,
        wechat_bot(settings, fake, [router]) as second,
    ):
        one, two = WeChatServer(first[2]), WeChatServer(second[2])
        responses = await asyncio.gather(
            one.text(OPENID, "/count", msg_id=888),
            two.text(OPENID, "/count", msg_id=888),
            one.text(OPENID, "/count", msg_id=888),
        )
        await one.close()
        await two.close()
    assert calls == [OPENID]
    assert [r.status_code for r in responses] == [200, 200, 200]


async def test_a_slow_handler_gets_success_at_once_and_its_reply_is_pushed(
    settings: Settings,
) -> None:
    calls: list[str] = []
    fake = FakeWeChat()
    router = counting_router(calls, delay=1.5)
    async with wechat_bot(settings, fake, [router], wechat_reply_seconds=0.2) as bot:
        _, channel, base, _ = bot
        server = WeChatServer(base)
        response = await server.text(OPENID, "/count")
        assert server.reply_text(response) is None
        await channel.idle()
        await server.close()
    assert fake.texts_to(OPENID) == ["counted 1"]
    assert fake.tokens_issued == ["TOKEN-1"]


async def test_a_pushed_reply_wechat_is_too_busy_for_waits_in_the_inbox(
    settings: Settings,
) -> None:
    calls: list[str] = []
    fake = FakeWeChat(refuse_once={OPENID: [-1]})
    router = counting_router(calls, delay=1.5)
    async with wechat_bot(settings, fake, [router], wechat_reply_seconds=0.2) as bot:
        app, channel, base, _ = bot
        server = WeChatServer(base)
        response = await server.text(OPENID, "/count")
        assert server.reply_text(response) is None
        await channel.idle()
        await server.close()
        async with app.sessions() as session:
            kept = (await session.execute(select(WechatInboxMessage.reason))).scalars().all()
    assert fake.texts_to(OPENID) == []
    assert kept == ["busy"]


async def test_images_and_voice_get_a_polite_text_only_answer(settings: Settings) -> None:
    async with wechat_bot(settings, FakeWeChat()) as (_, _, base, _):
        server = WeChatServer(base)
        image = await server.post(message_xml(OPENID, "image", PicUrl="http://x/y.jpg", MsgId="5"))
        voice = await server.post(message_xml(OPENID, "voice", MediaId="m", MsgId="6"))
        await server.close()
    assert "文字" in (server.reply_text(image) or "")
    assert "文字" in (server.reply_text(voice) or "")


async def test_view_clicks_and_unknown_events_are_answered_with_success(settings: Settings) -> None:
    async with wechat_bot(settings, FakeWeChat()) as (_, _, base, _):
        server = WeChatServer(base)
        view = await server.event(OPENID, "VIEW", "https://example.org/")
        unknown = await server.event(OPENID, "some_new_event", "x")
        report = await server.post(
            message_xml(OPENID, "event", Event="LOCATION", Latitude="30.2", Longitude="120.1")
        )
        await server.close()
    assert [r.text for r in (view, unknown, report)] == ["success"] * 3


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """A throwaway redis-server on a free port; skips when Redis is not installed."""
    import shutil
    import socket

    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    import redis.asyncio

    client = redis.asyncio.Redis(port=port)
    for _ in range(200):
        try:
            await client.ping()
            break
        except redis.ConnectionError:
            await asyncio.sleep(0.02)
    await client.aclose()
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    await process.wait()


async def test_with_redis_a_retry_reaching_another_instance_is_not_run_again(
    settings: Settings, redis_url: str
) -> None:
    calls: list[str] = []
    router = counting_router(calls, 0.2)
    fake = FakeWeChat()
    async with (
        wechat_bot(settings, fake, [router], redis_url=redis_url) as first,
        wechat_bot(settings, fake, [router], redis_url=redis_url) as second,
    ):
        assert type(first[1].seen).__name__ == "RedisSeen"
        one, two = WeChatServer(first[2]), WeChatServer(second[2])
        await asyncio.gather(
            one.text(OPENID, "/count", msg_id=999),
            two.text(OPENID, "/count", msg_id=999),
            one.text(OPENID, "/count", msg_id=999),
        )
        again = await two.says(OPENID, "/count")
        await one.close()
        await two.close()
    assert calls == [OPENID, OPENID]
    assert again == "counted 2"
