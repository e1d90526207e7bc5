"""A bound on how deeply input may nest, checked before it is parsed.

Python's JSON parser recurses once per level, so a few kilobytes of ``[[[[…`` raise
``RecursionError`` (a crash of ``unionbot chat``, a 500 on the Telegram webhook), and
nested data that parses can still overflow whatever walks it next. No message from a
member or a platform nests anywhere near :data:`MAX_DEPTH` (a Telegram update about 8
levels, a WeChat message 3), so deeper input is refused with a clear error, on every
channel, before a parser sees it.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree.ElementTree import Element

MAX_DEPTH = 32


class TooDeep(ValueError):
    def __init__(self) -> None:
        super().__init__(f"nested more than {MAX_DEPTH} levels deep")


def json_loads(text: str | bytes | bytearray) -> Any:
    """``json.loads``, refusing input nested deeper than :data:`MAX_DEPTH` with
    :class:`TooDeep` (a ``ValueError``, as malformed JSON raises)."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    if _json_depth(text) > MAX_DEPTH:
        raise TooDeep
    return json.loads(text)


def check_xml_depth(root: Element) -> None:
    """Raise :class:`TooDeep` for an element tree deeper than :data:`MAX_DEPTH` (walked
    without recursion, so the check itself cannot overflow)."""
    level = [root]
    for _ in range(MAX_DEPTH):
        level = [child for element in level for child in element]
        if not level:
            return
    raise TooDeep


def _json_depth(text: str) -> int:
    """How deeply brackets nest outside strings (JSON's strings cannot hide a bracket
    from this count: a quote inside one is always escaped)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest
        elif char in "]}":
            depth -= 1
    return deepest
