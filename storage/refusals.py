"""A rule of the programme said no: query functions and handlers raise this with a message
id that tells the member why (``events.full_deadline``). The dispatcher answers it and
rolls back what the handler wrote before refusing; no handler catches it."""

from __future__ import annotations

from typing import Any


class MessageId(str):
    """A refusal's value that is itself a message id, shown in the member's language
    (``Refused("bargaining.still_needs", need=MessageId("bargaining.needs.election"))``)."""


class Refused(Exception):
    def __init__(self, msgid: str, **values: Any) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.values = values
