"""What the core needs from a channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from starlette.routing import BaseRoute

from bot.messages import Outgoing
from storage.models import Route


class RecipientBlocked(Exception):
    """The member blocked the bot or left; stop sending to this identity until they write."""


class StartFailed(Exception):
    """A channel cannot start (a rejected token, an unreachable API); the message says why
    in one line for the operator."""


class RateLimited(Exception):
    """The platform said to slow down (Telegram 429); try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited, retry after {retry_after} s")
        self.retry_after = retry_after


class TemporaryFailure(Exception):
    """A network error or a server hiccup: worth retrying later. Any other exception from
    ``send`` is taken as permanent for that message."""


@dataclass(frozen=True)
class Routed:
    """How a channel with several routes (WeChat) delivered a message, and why that one:
    recorded on the delivery row."""

    route: Route
    reason: str


class Channel(Protocol):
    """Anything that can deliver a message to one of its identities.

    The sender takes the channel's pacer slot right before ``send``, unless the channel
    says ``takes_slots = True``: then ``send`` calls :func:`bot.pacing.take_slot` itself
    right before each API request, after any database work of its own. A channel may also
    have ``async def send_bulk(self, now) -> int``, which the sender awaits before its
    per-row sends in each round (how many rows it handled).
    """

    name: str

    async def send(self, external_id: str, message: Outgoing) -> Routed | None:
        """Deliver ``message`` to the identity ``external_id`` on this channel; the route it
        took, for a channel that has routes."""


class ServiceChannel(Channel, Protocol):
    """A channel that serves members in ``unionbot run`` (polling) or ``unionbot serve``."""

    async def start(self, *, webhook: bool) -> None:
        """Connect; poll for updates unless ``webhook`` (then updates come via ``routes``)."""

    async def stop_intake(self) -> None:
        """Take no more updates (a shutdown has begun); sending still works until ``stop``."""

    async def stop(self) -> None: ...

    def routes(self) -> list[BaseRoute]:
        """The webhook endpoints ``unionbot serve`` mounts for this channel."""
