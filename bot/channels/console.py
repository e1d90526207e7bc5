"""The console channel: one member per stdin line, for demos, scripts and acceptance tests.

Each line is plain text or a JSON action: ``{"text": ...}``, ``{"press": PAYLOAD}``,
``{"location": [lat, lon]}`` or ``{"start": PAYLOAD}``, any of which may carry
``"as": NAME`` to act as another console identity. With ``--json`` every bot message is one
JSON line ``{"to", "text", "buttons", "image"}``; otherwise buttons show as numbered
choices, numbered across every message shown since the member's last input (as WeChat
does), and a bare number presses one. Messages the bot sends to any console identity while
this process runs are printed too, addressed with ``to``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TextIO

from bot import nesting
from bot.dialogs import FORM_PAYLOAD
from bot.dispatcher import Dispatcher
from bot.messages import Button, Incoming, Location, Outgoing, to_json
from bot.numbers import read_number

NAME = "console"
ACTIONS = ("text", "press", "location", "start")
FORM_PREFIX = FORM_PAYLOAD + ":"


class BadAction(ValueError):
    """A line that is not a valid action; ``msgid`` explains it to the member."""

    def __init__(self, msgid: str) -> None:
        super().__init__(msgid)
        self.msgid = msgid


@dataclass
class ConsoleChannel:
    dispatcher: Dispatcher
    me: str
    out: TextIO
    json_mode: bool = False
    language: str | None = None

    name: str = NAME

    def __post_init__(self) -> None:
        self._choices: dict[str, list[Button]] = {}

    async def send(self, external_id: str, message: Outgoing) -> None:
        self._print(external_id, message)

    async def start(self) -> None:
        """Print what was queued for this identity while no console ran."""
        for message in await self.dispatcher.messenger.take_queued(NAME, self.me):
            self._print(self.me, message)

    async def handle_line(self, raw: bytes | str) -> None:
        try:
            line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            line = line.rstrip("\r\n")
            if not line.strip():
                return
            incoming = self._parse(line)
        except UnicodeDecodeError:
            await self._refuse(self.me, "console.bad_utf8")
            return
        except BadAction as bad:
            await self._refuse(self.me, bad.msgid)
            return
        self._choices[incoming.user_id] = []
        for reply in await self.dispatcher.handle(incoming):
            self._print(incoming.user_id, reply)

    async def _refuse(self, name: str, msgid: str) -> None:
        probe = Incoming(NAME, name, name, language=self.language)
        t = await self.dispatcher.translator_for(probe)
        self._print(name, Outgoing(t(msgid)))

    def _parse(self, line: str) -> Incoming:
        if not line.lstrip().startswith("{"):
            button = self._numbered_choice(line)
            if button is not None:
                return self._incoming(self.me, payload=button.payload)
            return self._incoming(self.me, text=line)
        try:
            action = nesting.json_loads(line)
        except nesting.TooDeep:
            raise BadAction("console.too_deep") from None
        except json.JSONDecodeError:
            raise BadAction("console.bad_json") from None
        if not isinstance(action, dict):
            raise BadAction("console.bad_json")
        who = action.pop("as", self.me)
        kinds = [key for key in ACTIONS if key in action]
        if (
            not isinstance(who, str)
            or not who.strip()
            or len(kinds) != 1
            or set(action) - {kinds[0]}
        ):
            raise BadAction("console.bad_action")
        value = action[kinds[0]]
        kind = kinds[0]
        if kind == "location":
            return self._incoming(who, location=_location(value))
        if not isinstance(value, str):
            raise BadAction("console.bad_action")
        if kind == "text":
            return self._incoming(who, text=value)
        if kind == "press":
            return self._incoming(who, payload=value)
        return self._incoming(who, start=value)

    def _numbered_choice(self, line: str) -> Button | None:
        """In interactive mode a bare number presses that option of those shown since the
        last input."""
        choices = self._choices.get(self.me, [])
        number = read_number(line, maximum=len(choices))
        if self.json_mode or not number:
            return None
        return choices[number - 1]

    def _incoming(
        self,
        who: str,
        *,
        text: str | None = None,
        payload: str | None = None,
        location: Location | None = None,
        start: str | None = None,
    ) -> Incoming:
        return Incoming(
            channel=NAME,
            user_id=who,
            chat_id=who,
            text=text,
            payload=payload,
            location=location,
            start=start,
            display_name=who,
            language=self.language,
        )

    def _print(self, to: str, message: Outgoing) -> None:
        if self.json_mode:
            self.out.write(json.dumps({"to": to, **to_json(message)}, ensure_ascii=False) + "\n")
        else:
            self.out.write(self._render(to, message))
        self.out.flush()

    def _render(self, to: str, message: Outgoing) -> str:
        """Buttons as numbered choices; a form's own buttons as labels, since a form reads
        numbers as answers (its choices are numbered in its text)."""
        lines = [f"[{to}] {message.text}"]
        buttons = [button for row in message.buttons for button in row]
        in_form = any(b.payload and b.payload.startswith(FORM_PREFIX) for b in buttons)
        pressable = self._choices.setdefault(to, [])
        for button in buttons:
            if button.url is not None:
                lines.append(f"    🔗 {button.label}: {button.url}")
            elif in_form:
                lines.append(f"    [{button.label}]")
            else:
                pressable.append(button)
                lines.append(f"    {len(pressable)}) {button.label}")
        if message.image:
            lines.append(f"    🖼 {message.image}")
        return "\n".join(lines) + "\n\n"


def _location(value: object) -> Location:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int | float) and math.isfinite(v) for v in value)
        or not (-90 <= value[0] <= 90 and -180 <= value[1] <= 180)
    ):
        raise BadAction("console.bad_location")
    return Location(float(value[0]), float(value[1]))
