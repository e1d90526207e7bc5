"""What the answer to a send means for its outbox row (:class:`storage.outbox.Outcome`).

Sent, with the route the channel took; ``RateLimited`` puts the row back for the
``retry_after`` the platform asked (the sender also pauses the channel);
``TemporaryFailure`` and network errors put it back with exponential backoff, up to
:data:`MAX_ATTEMPTS`; ``RecipientBlocked`` marks it blocked (and the sender the identity
inactive); anything else fails it with its reason.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.channels.base import RateLimited, RecipientBlocked, Routed, TemporaryFailure
from storage.models import Delivery, DeliveryStatus
from storage.outbox import Outcome

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
MAX_BACKOFF_SECONDS = 600.0
REASON_LENGTH = 200
ROUTE_REASON_LENGTH = 120


def backoff(attempts: int) -> float:
    return float(min(MAX_BACKOFF_SECONDS, 2**attempts))


def sent(row: Delivery, routed: Routed | None) -> Outcome:
    if routed is None:
        return Outcome(row.id, DeliveryStatus.SENT)
    reason = routed.reason[:ROUTE_REASON_LENGTH]
    return Outcome(row.id, DeliveryStatus.SENT, route=routed.route, route_reason=reason)


def failed(row: Delivery, reason: str) -> Outcome:
    return Outcome(row.id, DeliveryStatus.FAILED, reason[:REASON_LENGTH])


def not_sent(row: Delivery, error: Exception, now: datetime) -> Outcome:
    """The outcome of a send that raised ``error`` (the row was claimed once more)."""
    if isinstance(error, RateLimited):
        return _retry(row, f"rate limited {error.retry_after}s", now, error.retry_after)
    if isinstance(error, RecipientBlocked):
        return Outcome(row.id, DeliveryStatus.BLOCKED, "blocked the bot")
    reason = f"{type(error).__name__}: {error}"
    if isinstance(error, TemporaryFailure | OSError | TimeoutError):
        return _retry(row, reason, now)
    log.warning("delivery %s failed: %r", row.id, error)
    return failed(row, reason)


def _retry(row: Delivery, reason: str, now: datetime, after: float | None = None) -> Outcome:
    attempts = row.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        return failed(row, f"gave up: {reason}")
    wait = after if after is not None else backoff(attempts)
    return Outcome(
        row.id,
        DeliveryStatus.PENDING,
        reason[:REASON_LENGTH],
        not_before=now + timedelta(seconds=wait),
    )
