"""A worker on Telegram, through the real python-telegram-bot stack: asks to belong to the
enterprise, is approved by the chair, votes with a button in the private chat, sees the
choice once, and checks afterwards that the paper was counted."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from bot.app import App
from bot.channels.telegram import TelegramChannel
from bot.messages import Incoming, Outgoing, to_json
from storage import members
from storage.models.notices import Delivery
from tests.channels.fake_telegram import FakeTelegram
from tests.channels.test_telegram_sending import sender
from tests.conftest import Chat
from tests.handlers.test_bargaining import make_due, member_id, running_session, to
from tests.handlers.test_membership import enterprise_id

WORKER = 2001


async def test_a_telegram_worker_is_verified_votes_and_checks_the_receipt(
    app: App, fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    chair = Chat(app, "chair")
    await running_session(app, chair, step=2)
    aluminium = await enterprise_id(app)

    await fake.say(WORKER, "/me")
    await fake.say(WORKER, "王小明")
    [ask_enterprise] = await fake.say(WORKER, "永康")
    [ask_number] = await fake.press(WORKER, ask_enterprise, f"f:c:{aluminium}")
    [summary] = await fake.press(WORKER, ask_number, "f:skip")
    saved = await fake.press(WORKER, summary, "f:ok", replies=2)
    assert "工会主席审核" in saved[1].text
    async with app.sessions() as session:
        worker = await members.find_member(session, f"telegram:{WORKER}")
        assert worker is not None and worker.enterprise_status == "pending"
    await chair.channel.deliver_waiting()
    assert "新的入会申请：" in "\n".join(m["text"] for m in chair._take())

    seen = len(fake.events_in(WORKER))
    await chair.say(f"/approve {worker.id}")
    await sender(app).send_all()
    await fake.wait_for(lambda: len(fake.events_in(WORKER)) > seen)
    assert "您的入会申请已通过" in fake.events_in(WORKER)[-1].text

    seen = len(fake.events_in(WORKER))
    zhang = await member_id(app, "xiaozhang")
    opened = await chair.say(f"/election 1 24 {zhang} {worker.id}")
    assert "已通知 5 位" in to(opened, "chair")
    await sender(app).send_all()
    await fake.wait_for(lambda: len(fake.events_in(WORKER)) > seen)
    invitation = fake.events_in(WORKER)[-1]
    ballot = int(re.findall(r"v:(\d+):2", str(invitation.payloads()))[0])
    [voted] = await fake.press(WORKER, invitation, f"v:{ballot}:2")
    assert voted.chat_id == WORKER and "您投的是：工友2001" in voted.text
    receipt = re.search(r"回执码是 ([A-Z2-9]{8})", voted.text).group(1)  # type: ignore[union-attr]
    [again] = await fake.press(WORKER, invitation, f"v:{ballot}:1")
    assert "已经投过票" in again.text

    seen = len(fake.events_in(WORKER))
    await make_due(app)
    await chair.say("/close_ballot")
    await sender(app).send_all()
    await fake.wait_for(lambda: len(fake.events_in(WORKER)) > seen)
    tally = fake.events_in(WORKER)[-1].text
    assert "当选：工友2001" in tally and receipt in tally and f"{receipt}：" not in tally
    [counted] = await fake.say(WORKER, f"/receipt {receipt}")
    assert f"回执码 {receipt} 的选票已计入" in counted.text


async def test_a_reply_that_must_wait_is_stored_as_its_kept_text(
    app: App, fake: FakeTelegram, telegram: TelegramChannel
) -> None:
    """A vote's reply shows the choice; if Telegram refuses it twice it waits in the outbox
    as its ``kept_as`` text (receipt, no choice), so the database never pairs voter and
    choice, and the member still gets it."""
    await fake.say(WORKER, "/start")
    fake.fail_next("sendMessage", "retry_after", retry_after=1)
    fake.fail_next("sendMessage", "retry_after", retry_after=1)
    reply = Outgoing("您投的是：老胡。回执码是 AB23CD45", kept_as="回执码是 AB23CD45")
    incoming = Incoming("telegram", str(WORKER), str(WORKER))
    await telegram._render(incoming, [reply], None)
    async with app.sessions() as session:
        bodies = [
            json.dumps(b, ensure_ascii=False) for b in await session.scalars(select(Delivery.body))
        ]
    assert bodies == [json.dumps(to_json(Outgoing("回执码是 AB23CD45")), ensure_ascii=False)]
    await sender(app).send_all()
    assert fake.events_in(WORKER)[-1].text == "回执码是 AB23CD45"
