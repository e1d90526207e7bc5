"""A watcher reached only on WeChat, whose account may push them only a few messages until
they write again: three statements, then the live page's button, then quiet until they
write."""

from __future__ import annotations

from sqlalchemy import update

from bot.app import App
from bot.messages import Outgoing
from storage.models import Identity
from storage.types import utcnow
from tests.bot.test_runner import Recorder
from tests.handlers.test_bargaining import member_id
from tests.pages.support import open_meeting


class WeChatRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__("wechat")
        self.messages: list[Outgoing] = []

    async def send(self, external_id: str, message: Outgoing) -> None:
        await super().send(external_id, message)
        self.messages.append(message)


async def test_a_wechat_watcher_gets_three_statements_then_the_page(app: App) -> None:
    chat, session_id = await open_meeting(app)
    wechat = WeChatRecorder()
    app.messenger.attach(wechat)
    zhang = await member_id(app, "xiaozhang")
    async with app.sessions() as session, session.begin():
        await session.execute(
            update(Identity)
            .where(Identity.member_id == zhang)
            .values(channel="wechat", external_id="o-zhang")
        )
    for n in range(1, 6):
        await chat.say(f"第 {n} 点")
    texts = [m.text for m in wechat.messages]
    assert [t.split("：")[-1] for t in texts[:3]] == ["第 1 点", "第 2 点", "第 3 点"]
    assert len(texts) == 4 and "在网页上围观" in texts[3]
    assert [b.payload for row in wechat.messages[3].buttons for b in row] == [f"wm:{session_id}"]

    # Once they write again, statements come to the chat again.
    async with app.sessions() as session, session.begin():
        await session.execute(
            update(Identity).where(Identity.member_id == zhang).values(last_seen_at=utcnow())
        )
    await chat.say("第 6 点")
    assert wechat.messages[-1].text.endswith("第 6 点") and len(wechat.messages) == 5
