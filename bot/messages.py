"""The one message type every channel translates to and from.

Handlers see only these classes; a channel (console, Telegram, WeChat) turns its platform's
updates into an :class:`Incoming` and renders each :class:`Outgoing` back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

MAX_TEXT_LENGTH = 4096
"""Longest text the core accepts from a member: Telegram's own message limit."""
MAX_PAYLOAD_BYTES = 64
"""Telegram's limit on a button's ``callback_data``, checked when a button is made."""


@dataclass(frozen=True, slots=True)
class Button:
    """A button: either sends ``payload`` back when pressed, or opens ``url``."""

    label: str
    payload: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.payload is None) == (self.url is None):
            raise ValueError("a button has exactly one of payload or url")
        if self.payload is not None and len(self.payload.encode("utf-8")) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"button payload {self.payload!r} is over {MAX_PAYLOAD_BYTES} bytes")


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Incoming:
    """What a member did: wrote text, pressed a button, shared a location or followed a link.

    ``user_id`` is the sender's identity on ``channel`` (Telegram user id, WeChat openid,
    console name); ``chat_id`` is where the conversation happens (the same as ``user_id`` in
    private chats). ``language`` is the platform's hint, used only for a new member.
    """

    channel: str
    user_id: str
    chat_id: str
    text: str | None = None
    payload: str | None = None
    location: Location | None = None
    start: str | None = None
    display_name: str | None = None
    language: str | None = None
    is_group: bool = False


class Notification(StrEnum):
    """What kind of service notification a message to another member is. A channel that
    sends notifications by template (WeChat) picks the template by it."""

    REMINDER = "reminder"
    BALLOT_CLOSING = "ballot_closing"
    MEETING_STARTING = "meeting_starting"
    INTRODUCTION = "introduction"
    NOTICE = "notice"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What the bot says: text, rows of buttons, an optional image (a file path).

    ``replaces_menu`` marks a menu or a page that a channel able to edit messages may show
    in place of the message whose button was pressed, instead of piling up new ones.
    ``kept_as`` is the text to store instead of ``text`` when the message cannot leave now and
    must wait in the database (the outbox, the WeChat inbox): a vote's reply shows the
    voter's choice, which must never be written beside the voter.
    ``kind`` says which :class:`Notification` a message to another member is; ``urgent``
    marks one of an urgent broadcast (on WeChat: by template before anything else).
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = field(default_factory=tuple)
    image: str | None = None
    replaces_menu: bool = False
    kept_as: str | None = None
    kind: Notification | None = None
    urgent: bool = False


def storable(message: Outgoing) -> dict[str, object]:
    """The ``--json`` shape of ``message`` as it may be stored to wait: ``kept_as`` for text."""
    if message.kept_as is None:
        return to_json(message)
    return to_json(replace(message, text=message.kept_as, kept_as=None))


def rows(*rows_: list[Button] | tuple[Button, ...]) -> tuple[tuple[Button, ...], ...]:
    """Build a button layout from rows, dropping empty ones."""
    return tuple(tuple(row) for row in rows_ if row)


def to_json(message: Outgoing) -> dict[str, object]:
    """The console's ``--json`` shape of a message (without ``to``), also how queued ones
    keep; ``kind`` and ``urgent`` only when set."""
    found: dict[str, object] = {
        "text": message.text,
        "buttons": [
            [
                {"label": b.label, "payload": b.payload}
                if b.payload is not None
                else {"label": b.label, "url": b.url}
                for b in row
            ]
            for row in message.buttons
        ],
        "image": message.image,
    }
    if message.kind is not None:
        found["kind"] = str(message.kind)
    if message.urgent:
        found["urgent"] = True
    return found


def from_json(data: dict[str, object]) -> Outgoing:
    buttons = data.get("buttons") or []
    assert isinstance(buttons, list)
    return Outgoing(
        text=str(data["text"]),
        buttons=tuple(
            tuple(Button(b["label"], b.get("payload"), b.get("url")) for b in row)
            for row in buttons
        ),
        image=data.get("image"),  # type: ignore[arg-type]
        kind=_notification(data.get("kind")),
        urgent=data.get("urgent") is True,
    )


def _notification(kind: object) -> Notification | None:
    """A stored kind; one no longer known is none (the message still goes)."""
    try:
        return Notification(str(kind)) if kind is not None else None
    except ValueError:
        return None
