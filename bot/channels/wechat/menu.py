"""The account's custom menu, built from the menu entries every channel shows.

WeChat allows 3 top entries of at most 16 bytes and 5 sub-entries each of at most 60 bytes.
Up to three entries stand alone; with more, the first two stand alone and the third top
entry opens the next ones, ending with one that shows the whole menu in the chat.
"""

from __future__ import annotations

from typing import Any

from bot.dispatcher import Dispatcher
from bot.i18n import Translator

TOP_ENTRIES = 3
SUB_ENTRIES = 5
TOP_NAME_BYTES = 16
SUB_NAME_BYTES = 60
KEY_BYTES = 128


def build_menu(dispatcher: Dispatcher, t: Translator) -> dict[str, Any]:
    """The ``menu/create`` body: click entries whose keys are the items' button payloads."""
    items = [
        (t(item.label), item.payload)
        for item in dispatcher.menu_items
        if item.role is None and len(item.payload.encode()) <= KEY_BYTES
    ]
    if len(items) <= TOP_ENTRIES:
        return {"button": [_click(label, payload, TOP_NAME_BYTES) for label, payload in items]}
    standing, rest = items[: TOP_ENTRIES - 1], items[TOP_ENTRIES - 1 :]
    if len(rest) > SUB_ENTRIES:
        rest = [*rest[: SUB_ENTRIES - 1], (t("wechat.menu_all"), "menu")]
    more = {
        "name": _cut(t("wechat.menu_more"), TOP_NAME_BYTES),
        "sub_button": [_click(label, payload, SUB_NAME_BYTES) for label, payload in rest],
    }
    return {
        "button": [*(_click(label, payload, TOP_NAME_BYTES) for label, payload in standing), more]
    }


def _click(label: str, payload: str, limit: int) -> dict[str, str]:
    return {"type": "click", "name": _cut(label, limit), "key": payload}


def _cut(text: str, limit: int) -> str:
    """Fit a label into ``limit`` bytes: first drop a leading emoji, then cut at a word."""
    if len(text.encode("utf-8")) > limit:
        text = _without_leading_symbols(text)
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    cut = encoded[:limit].decode("utf-8", errors="ignore")
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" /|-·") or cut


def _without_leading_symbols(text: str) -> str:
    start = next((i for i, ch in enumerate(text) if ch.isalnum()), 0)
    return text[start:]
