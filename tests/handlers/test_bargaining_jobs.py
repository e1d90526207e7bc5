"""Bargaining jobs. A ballot closes by itself: opening it schedules its closing job and a
reminder two hours before; the job closes the ballot and pushes the tally once; the
reminder reaches only eligible members who have not voted and keep reminders on. The
chair sets the meeting time and followers are reminded an hour before."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import reminders
from bot.app import App
from bot.sender import Sender
from bot.settings import Settings
from handlers.ballots import CLOSE_KIND, CLOSING_KIND
from storage.models import Broadcast
from storage.models.bargaining import Ballot, BargainingSession
from tests.conftest import Chat
from tests.handlers.test_bargaining import (
    add_worker,
    as_,
    make_due,
    member_id,
    running_session,
    to,
)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """No quiet hours, so what a job writes goes out at once whatever the hour."""
    monkeypatch.setenv("UNIONBOT_KEY_DIR", str(tmp_path / "keys"))
    return Settings(  # type: ignore[call-arg]
        database_url=database_url,
        key_dir=tmp_path / "keys",
        media_dir=tmp_path / "media",
        quiet_hours="",
        _env_file=None,
    )


async def open_election(app: App, chat: Chat) -> int:
    """The chair opens a 24-hour election between xiaozhang and xiaowang; xiaowang follows."""
    _, code = await running_session(app, chat, step=2)
    await as_(chat, "xiaowang", f"/join {code}")
    zhang, wang = await member_id(app, "xiaozhang"), await member_id(app, "xiaowang")
    opened = await chat.say(f"/election 1 24 {zhang} {wang}")
    return int(re.findall(r"v:(\d+):1", str(opened))[0])


def due_of(app: App, kind: str, ballot: int) -> str:
    """The ``due`` argument of the ballot's pending job of this kind."""
    [job] = [j for j in app.jobs.scheduler.get_jobs() if j.id.startswith(f"{kind}:{ballot}:")]
    return str(job.args[2])


async def broadcasts(app: App) -> int:
    async with app.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Broadcast)) or 0


async def test_opening_a_ballot_schedules_its_close_and_a_reminder(app: App) -> None:
    chat = Chat(app, "chair")
    ballot = await open_election(app, chat)
    async with app.sessions() as session:
        found = await session.get(Ballot, ballot)
        assert found is not None
        closes = found.closes_at
    jobs = {j.id: j for j in app.jobs.scheduler.get_jobs()}
    close = jobs[reminders.job_id(CLOSE_KIND, ballot, closes)]
    remind = jobs[reminders.job_id(CLOSING_KIND, ballot, closes - timedelta(hours=2))]
    assert close.next_run_time == closes and close.name == f"{CLOSE_KIND} reminder"
    assert remind.next_run_time == closes - timedelta(hours=2)
    assert len(jobs) == 2


async def test_a_short_ballot_gets_no_reminder(app: App) -> None:
    chat = Chat(app, "chair")
    await running_session(app, chat, step=2)
    zhang = await member_id(app, "xiaozhang")
    await chat.say(f"/election 1 2 {zhang}")
    kinds = [j.id.split(":")[0] for j in app.jobs.scheduler.get_jobs()]
    assert kinds == [CLOSE_KIND]


async def test_the_close_job_closes_the_ballot_and_publishes_the_tally_once(app: App) -> None:
    chat = Chat(app, "chair")
    ballot = await open_election(app, chat)
    voted = to(await as_(chat, "xiaowang", f"/vote {ballot} 2"), "xiaowang")
    receipt = re.search(r"回执码是 ([A-Z2-9]{8})", voted).group(1)  # type: ignore[union-attr]
    due = due_of(app, CLOSE_KIND, ballot)
    chat._take()
    reminders.bind(app)

    await reminders.fire(CLOSE_KIND, ballot, due)  # fired early: not due, nothing sent
    await Sender(app).send_all()
    assert chat._take() == []
    async with app.sessions() as session:
        still = await session.get(Ballot, ballot)
        assert still is not None and still.closed_at is None

    await make_due(app)
    due = "20990101T000000Z"  # the job as it runs at the (new) closing time
    await reminders.fire(CLOSE_KIND, ballot, due)
    await Sender(app).send_all()
    published = chat._take()
    assert receipt in to(published, "xiaowang")  # a follower
    assert "当选：小王" in to(published, "chair")
    assert to(published, "xiaowang").count("投票结果公布") == 1
    async with app.sessions() as session:
        closed = await session.get(Ballot, ballot)
        assert closed is not None and closed.closed_at is not None
    written = await broadcasts(app)

    await reminders.fire(CLOSE_KIND, ballot, due)  # the same job again
    await reminders.fire(CLOSE_KIND, ballot, "20990101T000001Z")  # or another one
    await Sender(app).send_all()
    assert chat._take() == []
    assert await broadcasts(app) == written + 1  # an empty batch for the other one
    assert "投票已经截止" in to(await as_(chat, "xiaozhang", f"/vote {ballot} 1"), "xiaozhang")


async def test_the_reminder_reaches_only_eligible_members_who_have_not_voted(app: App) -> None:
    chat = Chat(app, "chair")
    ballot = await open_election(app, chat)
    await add_worker(app, chat, "xiaoli")  # joined after the roll was frozen: no vote
    await add_worker(app, chat, "amy", enterprise="officer")  # not in the enterprise
    await as_(chat, "xiaowang", f"/vote {ballot} 2")
    assert "关" in to(await as_(chat, "xiaozhang", {"press": "set:rem"}), "xiaozhang")
    due = due_of(app, CLOSING_KIND, ballot)
    chat._take()
    reminders.bind(app)

    await reminders.fire(CLOSING_KIND, ballot, due)
    await reminders.fire(CLOSING_KIND, ballot, due)  # run again: sent once
    await Sender(app).send_all()
    sent = chat._take()
    reminded = {m["to"] for m in sent}
    assert "employer" in reminded and "chair" in reminded  # on the roll, not voted
    assert "xiaoli" not in reminded
    assert "xiaowang" not in reminded  # voted
    assert "xiaozhang" not in reminded  # reminders off
    assert "amy" not in reminded and "officer" not in reminded
    said = to(sent, "employer")
    assert said.count("您还没有投票") == 1 and "小王" in said
    assert f"v:{ballot}:1" in str([m for m in sent if m["to"] == "employer"])


async def test_no_reminder_once_the_ballot_has_closed(app: App) -> None:
    chat = Chat(app, "chair")
    ballot = await open_election(app, chat)
    due = due_of(app, CLOSING_KIND, ballot)
    await make_due(app)
    assert "投票结果公布" in await chat.text_of(f"/close_ballot {ballot}")
    chat._take()
    reminders.bind(app)
    await reminders.fire(CLOSING_KIND, ballot, due)
    await Sender(app).send_all()
    assert chat._take() == []


async def test_followers_are_reminded_an_hour_before_the_meeting(app: App) -> None:
    chat = Chat(app, "chair")
    bs, code = await running_session(app, chat, step=5)
    await as_(chat, "xiaowang", f"/join {code}")
    await add_worker(app, chat, "xiaoli")
    await as_(chat, "xiaoli", f"/join {code}")
    await as_(chat, "xiaoli", {"press": "set:rem"})  # xiaoli switched reminders off
    assert "请这样写" in await chat.text_of("/meeting_at tomorrow")
    assert "要在以后" in await chat.text_of("/meeting_at 2020-03-02 14:00")
    await chat.say("/meeting_at 2099-03-02 10:00")
    told = await chat.say("/meeting_at 2099-03-02 14:00")  # changed: one reminder left
    assert "2099-03-02 14:00 开始" in to(told, "chair")
    assert "2099-03-02 14:00" in to(told, "xiaowang")
    jobs = [j.id for j in app.jobs.scheduler.get_jobs()]
    assert jobs == [f"bargaining_meeting:{bs.id}:20990302T050000Z"]  # 13:00 in Shanghai

    reminders.bind(app)
    await reminders.fire("bargaining_meeting", bs.id, "20990302T050000Z")
    await reminders.fire("bargaining_meeting", bs.id, "20990302T050000Z")
    await Sender(app).send_all()
    sent = chat._take()
    assert to(sent, "xiaowang").count("快到了") == 1
    assert "快到了" in to(sent, "chair")
    assert to(sent, "xiaoli") == ""


async def test_no_meeting_reminder_once_it_is_held_or_outside_step_five(app: App) -> None:
    chat = Chat(app, "chair")
    bs, code = await running_session(app, chat, step=5)
    await as_(chat, "xiaowang", f"/join {code}")
    await chat.say("/meeting_at 2099-03-02 14:00")
    await chat.say("/meeting_open")
    assert "已经开过" in await chat.text_of("/meeting_at 2099-03-03 14:00")
    chat._take()
    reminders.bind(app)
    await reminders.fire("bargaining_meeting", bs.id, "20990302T050000Z")
    await Sender(app).send_all()
    assert chat._take() == []

    await chat.say("/meeting_close")
    async with app.sessions() as session, session.begin():
        found = await session.get(BargainingSession, bs.id)
        assert found is not None
        found.step = 4
    assert "第 5 步" in await chat.text_of("/meeting_at 2099-03-03 14:00")
