"""What the core needs from a channel to message a member who did not just write."""

from __future__ import annotations

from typing import Protocol

from bot.messages import Outgoing


class RecipientBlocked(Exception):
    """The member blocked the bot or left; stop sending to this identity until they write."""


class Channel(Protocol):
    name: str

    async def send(self, external_id: str, message: Outgoing) -> None:
        """Deliver ``message`` to the identity ``external_id`` on this channel."""
