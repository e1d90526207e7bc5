"""Every query that grows with the union is served by an index: on PostgreSQL, with
sequential scans switched off, the plan of each statement the code runs for it reads its
tables through an index (a table no index can serve is still scanned, and shows)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from bot import audience
from bot.app import App
from storage import broadcasts, events, matchmaking
from storage.bargaining_index import bargaining_indexes
from storage.models import Enterprise, Member
from storage.models.bargaining import BargainingSession
from storage.models.singles import Profile
from storage.types import utcnow
from tests.conftest import _empty_postgres
from tests.singles import add_event, add_profile, ensure_member


@pytest.fixture
def database_url(postgres_database: str) -> str:
    """PostgreSQL only: the plans are PostgreSQL's."""
    _empty_postgres(postgres_database)
    return postgres_database


async def plans(app: App, work: Callable[[Any], Awaitable[object]]) -> list[str]:
    """The plan of every statement ``work(session)`` runs, with sequential scans off."""
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(app.engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with app.sessions() as session:
            await work(session)
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", capture)
    found = []
    async with app.engine.connect() as connection:
        await connection.execute(text("SET enable_seqscan = off"))
        for statement, parameters in statements:
            if statement.lstrip().upper().startswith(("SELECT", "WITH")):
                rows = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
                found.append("\n".join(row[0] for row in rows))
    assert found, "the work ran queries"
    return found


def served(found: list[str], *indexes: str) -> None:
    joined = "\n\n".join(found)
    assert "Seq Scan" not in joined, joined
    for index in indexes:
        assert f" {index} " in joined or f" {index}\n" in joined, f"{index} not used:\n{joined}"


async def test_the_bargaining_index_reads_by_index(app: App) -> None:
    async with app.sessions() as session, session.begin():
        enterprise = Enterprise(name="A", city="永康")
        session.add(enterprise)
        await session.flush()
        session.add(Member(display_name="a", language="zh_CN", enterprise_id=enterprise.id))
        session.add(
            BargainingSession(enterprise_id=enterprise.id, kind="wage", title="t", year=1, code="C")
        )
    served(
        await plans(app, lambda session: bargaining_indexes(session, 0, 20)),
        "ix_members_enterprise",
        "ix_bargaining_sessions_enterprise_id",
    )


async def test_pairs_read_the_candidates_by_index(app: App) -> None:
    she = await add_profile(app, "she", "f", utcnow().year - 28)
    await add_profile(app, "he", "m", utcnow().year - 29)
    matchmaker = await ensure_member(app, "hongniang")

    async def suggest(session: Any) -> object:
        profile = await session.get(Profile, she)
        return await matchmaking.suggestions(
            session, app.settings.key_dir, matchmaker, profile, utcnow()
        )

    served(await plans(app, suggest), "ix_singles_profiles_candidates")


async def test_coming_events_are_paged_by_index(app: App) -> None:
    await add_event(app)
    now = utcnow()

    async def page(session: Any) -> object:
        await events.upcoming_count(session, now)
        return await events.upcoming(session, now, 0, 5)

    served(await plans(app, page), "ix_events_starts_at")


async def test_audiences_are_counted_by_index(app: App) -> None:
    async def count(session: Any) -> object:
        await audience.count(session, "enterprise", "1")
        return await audience.count(session, "town", "坎墩街道")

    served(await plans(app, count), "ix_members_enterprise_text", "ix_members_town")


async def test_the_audience_question_hops_through_the_town_index(app: App) -> None:
    t = app.dispatcher.translations["zh_CN"]
    served(
        await plans(app, lambda session: audience.choices(session, t, "镇")),
        "ix_members_town",
    )


async def test_broadcast_counts_are_read_from_their_counters_by_index(app: App) -> None:
    served(
        await plans(app, lambda session: broadcasts.tallies(session, [1, 2])),
        "pk_broadcast_tallies",
    )


async def test_each_expansion_batch_is_found_by_member_id(app: App) -> None:
    async def next_batch(session: Any) -> object:
        return await broadcasts.batch_end(session, audience.condition("all", ""), 5000, 10000)

    served(await plans(app, next_batch), "pk_members")


async def test_cancelling_a_things_reminders_reads_only_its_jobs(app: App) -> None:
    when = utcnow() + timedelta(days=1)
    await app.jobs.schedule_reminder("event", 7, when)
    store = app.jobs.scheduler._jobstores["default"]
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        assert await app.jobs.cancel_reminders("event", 7) == 1
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    [(delete, parameters)] = [s for s in statements if s[0].lstrip().upper().startswith("DELETE")]
    with store.engine.connect() as connection:
        connection.exec_driver_sql("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in connection.exec_driver_sql(f"EXPLAIN {delete}", parameters))
    assert "Seq Scan" not in plan and "ix_apscheduler_jobs_id_bytes" in plan, plan
