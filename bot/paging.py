"""Lists that grow with the union (coming events, the bargaining index, an audience's
enterprises) are read a page at a time (``OFFSET``/``LIMIT``) and shown as one message with
"previous" and "next" buttons, never one message or one query per item."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.i18n import Translator
from bot.messages import Button


@dataclass(frozen=True)
class Page:
    """Page ``number`` (from 1) of ``pages``, each of ``size`` items out of ``total``."""

    number: int
    pages: int
    size: int
    total: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def page_of(asked: int, total: int, size: int) -> Page:
    """The asked page, kept within those that exist (a stale button may ask for one gone)."""
    pages = max((total + size - 1) // size, 1)
    return Page(min(max(asked, 1), pages), pages, size, total)


def navigation(t: Translator, page: Page, payload: Callable[[int], str]) -> list[Button]:
    """ "Previous" and "next" buttons where there is such a page."""
    buttons = []
    if page.number > 1:
        buttons.append(Button(t("paging.previous"), payload(page.number - 1)))
    if page.number < page.pages:
        buttons.append(Button(t("paging.next"), payload(page.number + 1)))
    return buttons
