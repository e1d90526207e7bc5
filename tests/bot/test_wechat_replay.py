"""WeChat: a signed plain-mode query carries one message only, whatever store records it
(the database, shared by instances, or Redis); a passive reply is well-formed XML whatever
the text it carries."""

from __future__ import annotations

import httpx
import xmltodict

from bot.settings import Settings
from storage.models import Notice
from tests.bot.test_wechat import OPENID, counting_router, redis_url
from tests.wechat_support import FakeWeChat, WeChatServer, message_xml, wechat_bot

__all__ = ["redis_url"]


def text_xml(content: str, msg_id: int) -> str:
    return message_xml(OPENID, "text", Content=content, MsgId=str(msg_id))


async def test_a_signed_plain_query_is_taken_for_one_message_only(settings: Settings) -> None:
    calls: list[str] = []
    router = counting_router(calls)
    fake = FakeWeChat()
    plain = {"wechat_aes_key": None, "wechat_max_age": 300}
    async with (
        wechat_bot(settings, fake, [router], **plain) as first,
        wechat_bot(settings, fake, [router], **plain) as second,
    ):
        one, two = WeChatServer(first[2], plain=True), WeChatServer(second[2], plain=True)
        signed = one.query()
        taken = await one.post_raw(text_xml("/count", 501), signed)
        forged = await one.post_raw(text_xml("/count", 502), signed)
        elsewhere = await two.post_raw(text_xml("/menu", 503), signed)
        retried = await two.post_raw(text_xml("/count", 501), signed)
        fresh = await one.text(OPENID, "/count", msg_id=504)
        await one.close()
        await two.close()
    assert one.reply_text(taken) == "counted 1"
    assert (forged.status_code, elsewhere.status_code) == (403, 403)
    assert retried.text == "success"
    assert one.reply_text(fresh) == "counted 2"
    assert calls == [OPENID, OPENID]


async def test_with_redis_a_signed_plain_query_is_taken_once(
    settings: Settings, redis_url: str
) -> None:
    calls: list[str] = []
    changes = {"wechat_aes_key": None, "wechat_max_age": 300, "redis_url": redis_url}
    async with wechat_bot(settings, FakeWeChat(), [counting_router(calls)], **changes) as bot:
        server = WeChatServer(bot[2], plain=True)
        signed = server.query()
        taken = await server.post_raw(text_xml("/count", 601), signed)
        forged = await server.post_raw(text_xml("/count", 602), signed)
        await server.close()
    assert server.reply_text(taken) == "counted 1"
    assert forged.status_code == 403
    assert calls == [OPENID]


def reply_content(server: WeChatServer, response: httpx.Response) -> str:
    """The reply's text, after checking that the whole reply parses as XML."""
    assert response.status_code == 200, response.text
    assert response.text != "success", "no passive reply"
    if not server.plain:
        xmltodict.parse(response.text)
    content = server.reply_text(response)
    assert content is not None
    return content


async def test_a_passive_reply_is_well_formed_whatever_the_text(settings: Settings) -> None:
    """``]]>`` typed by the member comes back in the reply; a control character that
    XML cannot hold (in a notice's title, typed elsewhere) is left out."""
    typed = "/x]]]]><![CDATA[><MsgType>news</MsgType>"
    for round_, plain in enumerate((True, False)):
        changes = {"wechat_aes_key": None} if plain else {}
        async with wechat_bot(settings, FakeWeChat(), **changes) as (app, _, base, _):
            async with app.sessions() as session, session.begin():
                session.add(Notice(title=f"通知\x01{plain}", body="正文"))
            server = WeChatServer(base, plain=plain)
            server._ids += 100 * round_  # the second round's messages are new ones
            echoed = await server.text(OPENID, typed)
            listed = await server.text(OPENID, "/notices")
            await server.close()
        assert "/x]]><MsgType>news</MsgType>" in reply_content(server, echoed)
        assert f"通知{plain}" in reply_content(server, listed)
