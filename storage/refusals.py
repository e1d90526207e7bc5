"""A rule of the programme said no: the query functions raise this with a message id that
tells the member why (``events.full_deadline``), and the handler shows it."""

from __future__ import annotations

from typing import Any


class Refused(Exception):
    def __init__(self, msgid: str, **values: Any) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.values = values
