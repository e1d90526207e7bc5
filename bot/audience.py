"""Who a notice goes to: a registry of audiences, so services can add their own.

Each audience offers its choices (``town:坎墩街道``) for the officer's form and says, as
one SQL condition on the ``members`` row, which members a value takes in
(:attr:`Audience.includes`). That one condition serves everywhere a notice is shown or
sent: resolving the recipients when it goes out, answering "does this member belong" when
a member opens it (one query), and listing the notices a member may see (one query for a
page), so an audience whose meaning changes changes everywhere at once. Built in:
everyone, a town, an enterprise, a language. Services declare theirs on their router
(``router.audience("event", ...)``: event participants, model workers), and the dispatcher
adds them when it includes the router.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    String,
    and_,
    false,
    literal,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialogs import CHOICES_SHOWN
from bot.i18n import N_, Translator
from bot.numbers import read_id
from bot.settings import LANGUAGES
from storage import notices
from storage.enterprises import search_enterprises
from storage.memberships import Status
from storage.models import Enterprise, Member
from storage.notices import Includes
from storage.towns import member_towns
from storage.types import as_text

Choices = Callable[[AsyncSession, Translator, str], Awaitable[list[tuple[str, str]]]]
"""``(value, label)`` pairs, at most :data:`~bot.dialogs.CHOICES_SHOWN`, whose name contains
the word typed ("" for the first ones): a union has about a thousand enterprises, more than
a message can list, so the officer types part of a name to find the others."""


@dataclass(frozen=True)
class Audience:
    choices: Choices
    """What the officer picks from; value "" for an audience without one."""
    includes: Includes
    """The condition, on the :class:`Member` row in scope, that the member is in the
    audience for a value: a bound value, or a notice's ``audience_value`` when listing."""
    describe: Callable[[AsyncSession, Translator, str], Awaitable[str]]


AUDIENCES: dict[str, Audience] = {}


def register_audience(name: str, audience: Audience) -> None:
    if name in AUDIENCES or ":" in name:
        raise ValueError(f"audience {name!r} is taken or has a colon")
    AUDIENCES[name] = audience


def install(declared: Mapping[str, Audience]) -> None:
    """The audiences a router declares, added when the dispatcher includes it (again for
    each dispatcher built in the process, which finds them already there)."""
    for name, audience in declared.items():
        if AUDIENCES.get(name) is not audience:
            register_audience(name, audience)


def split(choice: str) -> tuple[str, str]:
    """``"town:坎墩街道"`` -> ``("town", "坎墩街道")``."""
    name, _, value = choice.partition(":")
    return name, value


async def choices(session: AsyncSession, t: Translator, word: str = "") -> list[tuple[str, str]]:
    """Every audience's first choices, or those matching ``word``, as ``name:value`` and a
    label; an audience that searches no names (everyone, a language) matches by its label."""
    found = []
    for name, audience in AUDIENCES.items():
        found += [
            (f"{name}:{value}", label)
            for value, label in await audience.choices(session, t, word)
            if word.lower() in label.lower()
        ]
    return found


async def count(session: AsyncSession, name: str, value: str) -> int:
    """How many members the audience takes in now, counted by the database."""
    return await notices.count_where(session, condition(name, value))


def condition(name: str, value: str) -> ColumnElement[bool]:
    """Who is in the audience, on the :class:`Member` row; nobody for an audience no
    service registers (a notice's audience from a service since removed)."""
    audience = AUDIENCES.get(name)
    return false() if audience is None else audience.includes(literal(value, String))


async def resolve(session: AsyncSession, name: str, value: str) -> list[int]:
    """The members in the audience now."""
    return await notices.members_where(session, condition(name, value))


async def belongs(session: AsyncSession, member_id: int, name: str, value: str) -> bool:
    """Whether the member is in the audience now, in one query."""
    return await notices.is_member(session, member_id, condition(name, value))


def audiences_including() -> Mapping[str, Includes]:
    """Each audience's condition, for listing the notices a member may see."""
    return {name: audience.includes for name, audience in AUDIENCES.items()}


async def describe(session: AsyncSession, t: Translator, name: str, value: str) -> str:
    audience = AUDIENCES.get(name)
    return name if audience is None else await audience.describe(session, t, value)


async def _everyone_choices(
    session: AsyncSession, t: Translator, word: str
) -> list[tuple[str, str]]:
    return [("", t("audience.everyone"))]


def _everyone(value: SQLColumnExpression[str]) -> ColumnElement[bool]:
    return true()


async def _everyone_label(session: AsyncSession, t: Translator, value: str) -> str:
    return t("audience.everyone")


async def _town_choices(session: AsyncSession, t: Translator, word: str) -> list[tuple[str, str]]:
    towns = await member_towns(session, word, CHOICES_SHOWN)
    return [(town, t("audience.town", town=town)) for town in towns]


def _town(value: SQLColumnExpression[str]) -> ColumnElement[bool]:
    return Member.town == value


async def _town_label(session: AsyncSession, t: Translator, value: str) -> str:
    return t("audience.town", town=value)


async def _enterprise_choices(
    session: AsyncSession, t: Translator, word: str
) -> list[tuple[str, str]]:
    found = await search_enterprises(session, word, CHOICES_SHOWN)
    return [(str(e.id), t("audience.enterprise", name=e.name)) for e in found]


def _enterprise(value: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """An enterprise's verified members: picking it in /me is only a request."""
    return and_(as_text(Member.enterprise_id) == value, Member.enterprise_status == Status.VERIFIED)


async def _enterprise_label(session: AsyncSession, t: Translator, value: str) -> str:
    enterprise_id = read_id(value)
    enterprise = await session.get(Enterprise, enterprise_id) if enterprise_id else None
    return t("audience.enterprise", name=enterprise.name if enterprise else value)


LANGUAGE_LABELS = {"zh_CN": N_("audience.language_zh"), "en": N_("audience.language_en")}


async def _language_choices(
    session: AsyncSession, t: Translator, word: str
) -> list[tuple[str, str]]:
    return [(code, t(LANGUAGE_LABELS[code])) for code in LANGUAGES]


def _language(value: SQLColumnExpression[str]) -> ColumnElement[bool]:
    return Member.language == value


async def _language_label(session: AsyncSession, t: Translator, value: str) -> str:
    return t(LANGUAGE_LABELS.get(value, "audience.everyone"))


register_audience("all", Audience(_everyone_choices, _everyone, _everyone_label))
register_audience("town", Audience(_town_choices, _town, _town_label))
register_audience("enterprise", Audience(_enterprise_choices, _enterprise, _enterprise_label))
register_audience("language", Audience(_language_choices, _language, _language_label))
