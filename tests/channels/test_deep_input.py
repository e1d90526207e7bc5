"""Input nested deeper than a small bound is a clear error on every channel: the console
explains and carries on, the Telegram webhook answers 400 (not a 500), WeChat 400."""

from __future__ import annotations

import httpx

from bot.app import App
from bot.channels.telegram import SECRET_HEADER
from bot.nesting import MAX_DEPTH
from bot.settings import Settings
from tests.bot.test_wechat import OPENID
from tests.channels.conftest import WEBHOOK_SECRET
from tests.channels.fake_telegram import FakeTelegram
from tests.channels.test_telegram_webhook import XIAOMING, webhook
from tests.conftest import Chat
from tests.test_cli import chat
from tests.wechat_support import ACCOUNT, FakeWeChat, WeChatServer, wechat_bot

__all__ = ["webhook"]

DEEP = 100_000
"""Far past Python's recursion limit: ``json.loads`` alone raises ``RecursionError``."""


def nested_json(depth: int) -> str:
    return '{"text": ' + "[" * depth + "]" * depth + "}"


async def test_the_console_explains_a_deeply_nested_line_and_carries_on(app: App) -> None:
    console = Chat(app, "xiaoming")
    said = await console.text_of(nested_json(DEEP))
    assert "嵌套太深" in said and str(MAX_DEPTH) in said
    assert "嵌套太深" in await console.text_of(nested_json(MAX_DEPTH + 1))
    assert "看不懂" in await console.text_of(nested_json(MAX_DEPTH - 1)), "a list is no text"
    assert "请选择" in await console.text_of("/menu")


def test_unionbot_chat_goes_on_after_a_deeply_nested_line(database_url: str) -> None:
    refused, menu = chat(database_url, "x", nested_json(DEEP), "/menu")
    assert "嵌套太深" in refused["text"] and "请选择" in menu["text"]


async def test_the_telegram_webhook_answers_400_to_deeply_nested_json(
    fake: FakeTelegram, webhook: httpx.AsyncClient
) -> None:
    headers = {SECRET_HEADER: WEBHOOK_SECRET, "content-type": "application/json"}
    update = '{"update_id": 1, "message": ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "}"
    response = await webhook.post("/telegram", content=update.encode(), headers=headers)
    assert response.status_code == 400
    fine = fake.message_update(XIAOMING, "/start")
    assert (await webhook.post("/telegram", json=fine, headers=headers)).status_code == 200
    assert len(fake.events_in(XIAOMING)) == 1


async def test_wechat_answers_400_to_a_deeply_nested_message(settings: Settings) -> None:
    deep = "<a>" * (MAX_DEPTH + 1) + "</a>" * (MAX_DEPTH + 1)
    body = (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{OPENID}]]></FromUserName><CreateTime>1</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[/menu]]></Content>"
        f"<MsgId>42</MsgId><Extra>{deep}</Extra></xml>"
    )
    async with wechat_bot(settings, FakeWeChat(), wechat_aes_key=None) as (_, _, base, _):
        server = WeChatServer(base, plain=True)
        response = await server.post_raw(body, server.query())
        await server.close()
    assert response.status_code == 400 and "nested" in response.text
