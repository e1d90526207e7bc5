"""Button and deep-link payloads: a prefix and typed fields, packed and read in one place.

A service declares each kind of button once, as a frozen dataclass::

    @dataclass(frozen=True)
    class SignUp(Payload, prefix="ev:s"):
        event_id: int

``SignUp(12).pack()`` is ``"ev:s:12"``, and ``@router.button(SignUp)`` hands the handler a
``SignUp`` read back from the pressed payload. Checked when the button is made: Telegram's
``callback_data`` is 1-64 bytes, so a longer payload raises there and then rather than when
Telegram refuses the whole message; an integer is an id from 0 to :data:`bot.numbers.MAX_ID`;
a float is finite; a text field holds no separator (except the last, which takes the rest).
Trailing fields left at their defaults are left out, so one kind is both ``bno`` and
``bno:2`` (``page: int = 1``). What comes back is read strictly: a payload of the wrong shape
(an old button, a forged one, ``np:①``) never reaches the handler; the dispatcher answers
that the button is no longer valid.

A prefix is one word or two (``ev`` or ``ev:s``), so kinds that share a first word are told
apart by the second. Deep links (``/start bg_CODE``, a WeChat QR scene) use ``_`` between
fields and Telegram's start-parameter alphabet: ``A-Z a-z 0-9 _ -``, at most 64 characters
(declare them with ``link=True``).
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from typing import Any, ClassVar, Literal, Self

from bot.messages import MAX_PAYLOAD_BYTES
from bot.numbers import MAX_ID, read_number

MAX_LINK_LENGTH = 64
"""Telegram's limit on a deep link's ``start`` parameter."""
LINK_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")
BUTTON_SEPARATOR = ":"
LINK_SEPARATOR = "_"
FLOAT = re.compile(r"-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?")
"""A float as ``repr`` writes a finite one: no ``nan``, ``inf``, spaces or ``+``."""


class Payload:
    """Base of every payload kind; subclasses are frozen dataclasses of int, float, str or
    Literal fields."""

    prefix: ClassVar[str]
    separator: ClassVar[str]
    link: ClassVar[bool]

    def __init_subclass__(cls, *, prefix: str, link: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        separator = LINK_SEPARATOR if link else BUTTON_SEPARATOR
        words = prefix.split(separator)
        if not 1 <= len(words) <= 2 or not all(words):
            raise ValueError(f"payload prefix {prefix!r} is not one or two words")
        cls.prefix, cls.separator, cls.link = prefix, separator, link

    @classmethod
    def _fields(cls) -> list[tuple[str, Any, Any]]:
        """Each field's name, type and default (``dataclasses.MISSING`` when it has none)."""
        hints = typing.get_type_hints(cls)
        return [(f.name, hints[f.name], f.default) for f in dataclasses.fields(cls)]  # type: ignore[arg-type]

    def pack(self) -> str:
        """The payload as sent; raises ValueError for a value that cannot go in a button."""
        fields = self._fields()
        written = len(fields)
        while written and getattr(self, fields[written - 1][0]) == fields[written - 1][2]:
            written -= 1
        parts = [self.prefix]
        for position, (name, kind, _) in enumerate(fields[:written]):
            value = getattr(self, name)
            parts.append(_encode(name, kind, value, self.separator, position == len(fields) - 1))
        packed = self.separator.join(parts)
        if self.link:
            if len(packed) > MAX_LINK_LENGTH or not LINK_ALPHABET.fullmatch(packed):
                raise ValueError(f"deep link {packed!r} is not 1-64 of A-Z a-z 0-9 _ -")
        elif len(packed.encode("utf-8")) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload {packed!r} is over {MAX_PAYLOAD_BYTES} bytes")
        return packed

    @classmethod
    def unpack(cls, args: str) -> Self | None:
        """Read what followed the prefix; None when it is not of this kind's shape."""
        fields = cls._fields()
        parts = args.split(cls.separator, len(fields) - 1) if args else []
        required = sum(default is dataclasses.MISSING for _, _, default in fields)
        if not required <= len(parts) <= len(fields):
            return None
        values = {}
        for (name, kind, _), part in zip(fields, parts, strict=False):
            value = _decode(kind, part)
            if value is None:
                return None
            values[name] = value
        return cls(**values)


def _encode(name: str, kind: Any, value: Any, separator: str, last: bool) -> str:
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
            raise ValueError(f"payload field {name}={value!r} is not an id")
        return str(value)
    if kind is float:
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"payload field {name}={value!r} is not a finite number")
        return repr(float(value))
    text = str(value)
    if typing.get_origin(kind) is Literal and value not in typing.get_args(kind):
        raise ValueError(f"payload field {name}={value!r} is not one of {typing.get_args(kind)}")
    if not text or (separator in text and not last):
        raise ValueError(f"payload field {name}={value!r} is empty or holds {separator!r}")
    return text


def _decode(kind: Any, part: str) -> Any:
    if kind is int:
        whole = read_number(part) if part.isascii() and part.isdigit() else None
        return whole if str(whole) == part else None
    if kind is float:
        number = float(part) if FLOAT.fullmatch(part) else math.nan
        return number if math.isfinite(number) else None
    if typing.get_origin(kind) is Literal:
        return part if part in typing.get_args(kind) else None
    return part or None


def candidates(payload: str, separator: str) -> list[tuple[str, str]]:
    """Where a payload may be routed, longer prefix first, with what follows each:
    ``"ev:s:12"`` -> ``[("ev:s", "12"), ("ev", "s:12")]``."""
    words = payload.split(separator, 2)
    found = []
    if len(words) > 1:
        found.append((separator.join(words[:2]), words[2] if len(words) > 2 else ""))
    found.append((words[0], separator.join(words[1:])))
    return found
