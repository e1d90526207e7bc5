"""Prometheus metrics for ``/metrics`` (``unionbot serve``), with ``prometheus-client``.

Counters and the latency histogram count what this process did since it started; the
outbox and scheduler gauges are read from the database at each scrape, so every process
reports the same figures (take ``max`` across instances), while ``unionbot_leader`` is 1
in exactly one process of a deployment (take ``sum``). The README's "Metrics and alerts"
section lists them with sample alert rules.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.messages import Incoming
from storage.schema import SCHEDULER_TABLE

LATE_SECONDS = 60.0
"""A job this far past its run time has been missed: no leader, or a stuck scheduler."""

MESSAGES = Counter(
    "unionbot_messages", "Messages handled, by channel and route kind", ["channel", "kind"]
)
FAILURES = Counter(
    "unionbot_handler_failures",
    "Messages whose handler failed (the member got an apology)",
    ["channel"],
)
REPLY_SECONDS = Histogram(
    "unionbot_reply_seconds",
    "Time from a message's arrival to its replies being ready, by channel",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SENDS = Counter("unionbot_sends", "Outbox rows the sender finished, by outcome", ["outcome"])
LEADER = Gauge("unionbot_leader", "1 while this process leads (runs the scheduler and sender)")

CONTENT_TYPE = CONTENT_TYPE_LATEST


def route_kind(message: Incoming) -> str:
    if message.start is not None:
        return "deep_link"
    if message.payload is not None:
        return "button"
    if message.location is not None:
        return "location"
    if message.text is not None and message.text.startswith("/"):
        return "command"
    return "text"


def handled(message: Incoming, started: float) -> None:
    MESSAGES.labels(message.channel, route_kind(message)).inc()
    REPLY_SECONDS.labels(message.channel).observe(time.perf_counter() - started)


OUTBOX_QUERY = text(
    """
    SELECT d.status,
           CASE WHEN d.status IN ('pending', 'sending') THEN
               COALESCE((SELECT i.channel FROM identities i WHERE i.member_id = d.member_id
                         ORDER BY i.active DESC, i.last_seen_at DESC LIMIT 1), 'none')
           ELSE 'all' END AS channel,
           CASE WHEN d.broadcast_id IS NULL THEN 'direct' ELSE 'broadcast' END AS kind,
           count(*)
    FROM deliveries d
    GROUP BY 1, 2, 3
    """
)
"""Rows still to send are counted by the channel they will go to (the member's account
used last); finished rows only by status, to keep the scrape cheap on a long history."""


class Snapshot(Collector):
    """The figures read from the database for one scrape."""

    def __init__(self, outbox: list[tuple[str, str, str, int]], due: int, late: int) -> None:
        self.outbox, self.due, self.late = outbox, due, late

    def collect(self) -> Iterator[Metric]:
        rows = GaugeMetricFamily(
            "unionbot_outbox_rows",
            "Outbox rows by status, channel (for rows still to send) and kind",
            labels=["status", "channel", "kind"],
        )
        for status, channel, kind, count in self.outbox:
            rows.add_metric([status, channel, kind], count)
        yield rows
        yield GaugeMetricFamily(
            "unionbot_scheduler_jobs_due", "Scheduled jobs whose run time has come", self.due
        )
        yield GaugeMetricFamily(
            "unionbot_scheduler_jobs_late",
            f"Scheduled jobs more than {LATE_SECONDS:.0f} s past their run time",
            self.late,
        )


async def snapshot(engine: AsyncEngine) -> Snapshot:
    now = time.time()
    async with engine.connect() as connection:
        outbox = [(r[0], r[1], r[2], int(r[3])) for r in await connection.execute(OUTBOX_QUERY)]
        try:
            jobs = (
                await connection.execute(
                    text(
                        f"SELECT count(*) FILTER (WHERE next_run_time <= :now),"
                        f" count(*) FILTER (WHERE next_run_time < :late) FROM {SCHEDULER_TABLE}"
                    ),
                    {"now": now, "late": now - LATE_SECONDS},
                )
            ).one()
            due, late = int(jobs[0]), int(jobs[1])
        except Exception:
            await connection.rollback()
            due = late = 0
    return Snapshot(outbox, due, late)


async def exposition(engine: AsyncEngine) -> bytes:
    """This process's counters, then the database's gauges, in the text format."""
    scrape = CollectorRegistry()
    scrape.register(await snapshot(engine))
    return generate_latest(REGISTRY) + generate_latest(scrape)
