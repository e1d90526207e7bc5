"""Jobs are kept in the project's database and listed by ``unionbot jobs``."""

from __future__ import annotations

from datetime import timedelta

from bot.scheduler import create_scheduler
from bot.settings import Settings
from storage.types import utcnow
from tests.test_cli import unionbot


async def test_a_scheduled_job_is_stored_and_listed(settings: Settings) -> None:
    assert b"no scheduled jobs" in unionbot("jobs", url=settings.database_url).stdout
    scheduler = create_scheduler(settings)
    scheduler.start(paused=True)
    when = utcnow() + timedelta(days=1)
    scheduler.add_job(print, "date", run_date=when, args=["event", 7], id="event-7-24h")
    scheduler.shutdown(wait=False)

    listed = unionbot("jobs", url=settings.database_url)
    assert listed.returncode == 0, listed.stderr.decode()
    job_id, next_run, what = listed.stdout.decode().strip().split("\t")
    assert job_id == "event-7-24h"
    assert next_run == when.astimezone(settings.zone).isoformat(timespec="seconds")
    assert next_run.endswith("+08:00")
    assert what == "print('event', 7)"
