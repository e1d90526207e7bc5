"""Event reminders and the audiences events and model workers add to officers' notices:
an event gets a reminder 24 h and 2 h before it starts, for its confirmed sign-ups who
have reminders on; a notice can go to one event's participants or to verified model
workers only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import reminders
from bot.app import App
from bot.broadcasting import expand_pending
from bot.settings import Settings
from storage.models import Role
from storage.models.benefits import ModelWorker
from storage.types import utcnow
from tests.conftest import Chat, payloads
from tests.singles import add_event, add_profile, ensure_member


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """No quiet hours, so what is sent goes out whatever the time of the test run."""
    return Settings(  # type: ignore[call-arg]
        database_url=database_url, key_dir=tmp_path / "keys", quiet_hours="", _env_file=None
    )


def received(messages: list[dict[str, Any]], *, sender: str) -> dict[str, list[dict[str, Any]]]:
    """What was delivered, by recipient (the sender's own chat left out)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        if message["to"] != sender:
            found.setdefault(message["to"], []).append(message)
    return found


async def event_with_sign_ups(app: App, chat: Chat) -> int:
    """Three places: a, b and quiet confirmed (quiet turns reminders off), w waitlisted,
    x waitlisted then cancelled."""
    event = await add_event(app, places_total=3)
    for name in ("a", "b", "quiet", "w", "x"):
        await add_profile(app, name, "f", 1996)
        await chat.say({"as": name, "press": f"ev:s:{event}"})
    await chat.say({"as": "x", "press": f"ev:c:{event}"})
    await chat.say({"as": "quiet", "press": "set:rem"})
    return event


async def test_an_event_created_by_officers_gets_two_reminder_jobs(app: App, chat: Chat) -> None:
    await ensure_member(app, "officer", Role.OFFICER)
    year = utcnow().year + 1
    for line in [
        "/newevent",
        "青荷对对·潮韵新安 春游",
        "十里寿昌江踏青",
        "建德市寿昌镇",
        f"{year}-03-14 09:00",
        f"{year}-03-14 12:00",
        f"{year}-03-10 18:00",
        "0",
        "0",
        "20",
        "跳过",
        "2",
    ]:
        await chat.say({"as": "officer", "text": line})
    assert "已发布" in await chat.text_of({"as": "officer", "press": "f:ok"})
    jobs = sorted(job.id for job in app.jobs.scheduler.get_jobs())
    assert jobs == [f"event:1:{year}0313T010000Z", f"event:1:{year}0313T230000Z"]


async def test_no_reminder_is_scheduled_in_the_past(app: App) -> None:
    from handlers.events import schedule_reminders

    now = utcnow()
    await add_event(
        app,
        title="很快开始",
        starts_at=now + timedelta(hours=3),
        ends_at=now + timedelta(hours=5),
        signup_deadline=now + timedelta(hours=1),
    )
    await add_event(
        app,
        title="已经开始",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
        signup_deadline=now - timedelta(hours=2),
    )
    assert await schedule_reminders(app, now) == 1
    assert await schedule_reminders(app, now) == 1, "running it again replaces, not doubles"
    [job] = app.jobs.scheduler.get_jobs()
    assert job.id.startswith("event:1:")


async def test_the_reminder_reaches_only_confirmed_sign_ups_with_reminders_on(
    app: App, chat: Chat
) -> None:
    event = await event_with_sign_ups(app, chat)
    reminders.bind(app)
    await reminders.fire("event", event, "20261201T000000Z")
    await reminders.fire("event", event, "20261201T000000Z")
    await chat.channel.deliver_waiting()
    got = received(chat._take(), sender="-")
    assert sorted(got) == ["a", "b"], "not the waitlist, the cancelled or reminders off"
    [message] = got["a"]
    assert message["text"].startswith("⏰ 活动快开始啦：青荷对对·潮韵新安 冬日联谊")
    assert "建德市工人文化宫（寿昌宫）" in message["text"]


async def test_the_reminder_is_in_the_members_language_and_local_time(app: App, chat: Chat) -> None:
    starts = utcnow().replace(microsecond=0) + timedelta(days=3)
    event = await add_event(
        app,
        places_total=3,
        profile_required=False,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        signup_deadline=starts - timedelta(days=1),
    )
    await ensure_member(app, "amy")
    await chat.say({"as": "amy", "text": "/lang en"})
    await chat.say({"as": "amy", "press": f"ev:s:{event}"})
    chat._take()
    reminders.bind(app)
    await reminders.fire("event", event, "20261201T000000Z")
    await chat.channel.deliver_waiting()
    [message] = received(chat._take(), sender="-")["amy"]
    local = starts.astimezone(app.settings.zone).strftime("%Y-%m-%d %H:%M")
    assert message["text"].startswith("⏰ Your event is coming up")
    assert f"When: {local}" in message["text"]


async def send_notice_to(app: App, chat: Chat, choice: str) -> tuple[str, list[dict[str, Any]]]:
    """The officer composes a notice for ``choice`` and sends it now; returns the summary
    and what the console printed once the leader wrote its rows (the notice to console
    members too)."""
    for line in ["/notice", "活动通知", "请提前十分钟到场。", "跳过", "跳过", "跳过"]:
        said = await chat.say({"as": "officer", "text": line})
    assert choice in payloads(said[-1])
    await chat.say({"as": "officer", "press": choice})
    *_, confirm = await chat.say({"as": "officer", "text": "跳过"})
    await chat.say({"as": "officer", "press": "f:ok"})
    await expand_pending(app)
    await chat.channel.deliver_waiting()
    return str(confirm["text"]), chat._take()


async def test_a_notice_to_event_participants_reaches_only_them(app: App, chat: Chat) -> None:
    event = await event_with_sign_ups(app, chat)
    await add_event(app, title="另一场活动", places_total=3)
    await ensure_member(app, "officer", Role.OFFICER)
    await ensure_member(app, "bystander")
    chat._take()
    summary, sent = await send_notice_to(app, chat, f"f:c:event:{event}")
    assert "活动“青荷对对·潮韵新安 冬日联谊”的报名者（现在 3 人）" in summary
    assert sorted(received(sent, sender="officer")) == ["a", "b", "quiet"]


async def test_a_notice_to_model_workers_reaches_only_verified_unrevoked_ones(
    app: App, chat: Chat
) -> None:
    await ensure_member(app, "officer", Role.OFFICER)
    ids = {name: await ensure_member(app, name) for name in ("verified", "revoked", "plain")}
    now = utcnow()
    async with app.sessions() as session, session.begin():
        for n, (member, revoked) in enumerate(
            [(ids["verified"], None), (ids["revoked"], now), (None, None)]
        ):
            session.add(
                ModelWorker(
                    name=f"劳模{n}",
                    level="city",
                    city="宁波",
                    year=2020,
                    id_hash=f"{n:064d}",
                    member_id=member,
                    claimed_at=now if member else None,
                    revoked_at=revoked,
                )
            )
    chat._take()
    summary, sent = await send_notice_to(app, chat, "f:c:model_workers:")
    assert "已认证的劳模（现在 1 人）" in summary
    assert sorted(received(sent, sender="officer")) == ["verified"]
