"""The officials' dashboard: an officer signs in with the one-time code the bot sends to
their chat and sees every enterprise's bargaining (a late step highlighted), the index
chart, broadcasts' deliveries and events' places, and downloads each table as CSV that a
spreadsheet cannot run; everyone else is kept out."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, select, update

from bot.app import App
from storage import broadcasts, members, outbox
from storage.models import RoleGrant
from storage.models.bargaining import BargainingSession
from storage.models.events import Event, SignUp, SignUpStatus
from storage.models.notices import DeliveryStatus
from storage.types import utcnow
from tests.conftest import Chat
from tests.handlers.test_bargaining import as_, running_session, to
from tests.pages.support import link_in, open_meeting, watch_link
from tests.wechat_support import served
from unionbot.web import create_web_app


@pytest.fixture
async def site(app: App) -> AsyncIterator[httpx.AsyncClient]:
    async with served(create_web_app(app, [])) as base:
        app.settings.web_url = base
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            yield client


def code_in(text: str) -> str:
    match = re.search(r"登录码是 ([A-Z2-9]{8})", text)
    assert match, text
    return match.group(1)


async def busy_federation(app: App, chat: Chat) -> None:
    """A session whose step is long past its guide time, one with a title meant to run in a
    spreadsheet, a broadcast half delivered, and an event with two places taken."""
    bs, _ = await running_session(app, chat, step=4)
    now = utcnow()
    async with app.sessions() as session, session.begin():
        await session.execute(
            update(BargainingSession)
            .where(BargainingSession.id == bs.id)
            .values(step_started_at=now - timedelta(days=30), title='=HYPERLINK("http://x")')
        )
        broadcast = await broadcasts.create_broadcast(session, "notice:99", None, False, now)
        assert broadcast is not None
        found = [await members.find_member(session, n) for n in ("xiaozhang", "xiaowang", "xiaoli")]
        ids = [m.id for m in found if m]
        await outbox.add(
            session, [outbox.Row(i, {"text": "通知"}, now, 2) for i in ids], broadcast.id
        )
        [first] = await outbox.due(session, now, 1, ["console"])
        await outbox.record(session, [first.id], DeliveryStatus.SENT, now)
        event = await session.scalar(select(Event).order_by(Event.id).limit(1))
        assert event is not None
        event.signup_deadline = now + timedelta(days=5)
        event.starts_at, event.ends_at = now + timedelta(days=10), now + timedelta(days=10, hours=3)
        session.add_all(
            SignUp(event_id=event.id, member_id=i, side="f", status=SignUpStatus.CONFIRMED)
            for i in ids[:2]
        )


async def test_an_officer_signs_in_with_a_code_from_chat_and_reads_the_dashboard(
    app: App, site: httpx.AsyncClient
) -> None:
    chat = Chat(app, "chair")
    await busy_federation(app, chat)
    assert (await site.get("/w/dashboard")).headers["location"] == "/w/signin"

    answer = await as_(chat, "officer", "/dashboard")
    code = code_in(to(answer, "officer"))
    assert link_in(answer, "officer") == "/w/signin"
    signed_in = await site.post("/w/signin", data={"code": code.lower()})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/w/dashboard"
    page = await site.get("/w/dashboard")
    assert page.status_code == 200
    assert "各企业协商进度" in page.text and "永康" in page.text
    late = re.search(r'<tr class="overdue">(.*?)</tr>', page.text, re.S)
    assert late and "第 4 步：接受要约" in late.group(1) and "已超时" in late.group(1)
    assert page.text.count('<svg class="chart"') == 3
    assert "notice:99" in page.text and "青荷对对" in page.text

    sessions = await site.get("/w/dashboard/sessions.csv")
    assert sessions.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(sessions.text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["企业", "协商", "进度"]
    assert any(row[1].startswith("'=HYPERLINK") for row in rows[1:])
    deliveries = list(csv.reader(io.StringIO((await site.get("/w/dashboard/deliveries.csv")).text)))
    statuses = {(row[3], row[4]) for row in deliveries[1:] if row[0] == "notice:99"}
    assert statuses == {("sent", "1"), ("pending", "2")}
    assert (await site.get("/w/dashboard/secrets.csv")).status_code == 404

    # The code worked once; a wrong one is refused.
    site.cookies.clear()
    for again in (code, "ABCDEFGH"):
        refused = await site.post("/w/signin", data={"code": again})
        assert refused.status_code == 403 and "已用过或已过期" in refused.text


async def test_only_officers_reach_the_dashboard(app: App, site: httpx.AsyncClient) -> None:
    chat, session_id = await open_meeting(app)
    assert "工会干部" in to(await as_(chat, "xiaozhang", "/dashboard"), "xiaozhang")
    await site.get(await watch_link(chat, "xiaozhang", session_id))
    refused = await site.get("/w/dashboard")
    assert refused.status_code == 403 and "无权查看" in refused.text
    assert (await site.get("/w/dashboard/sessions.csv")).status_code == 403

    # An officer whose role is taken away is out at the next request.
    site.cookies.clear()
    code = code_in(to(await as_(chat, "officer", "/dashboard"), "officer"))
    await site.post("/w/signin", data={"code": code})
    assert (await site.get("/w/dashboard")).status_code == 200
    async with app.sessions() as session, session.begin():
        officer = await members.find_member(session, "officer")
        assert officer is not None
        await session.execute(delete(RoleGrant).where(RoleGrant.member_id == officer.id))
    assert (await site.get("/w/dashboard")).status_code == 403
