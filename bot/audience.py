"""Who a notice goes to: a registry of audiences, so services can add their own.

Each audience offers its choices (``town:坎墩街道``) for the officer's form and resolves a
chosen value to member ids when the notice goes out. Built in: everyone, a town, an
enterprise, a language. Event participants (events) and model workers (benefits) register
theirs from their own modules with :func:`register_audience`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, Translator
from bot.settings import LANGUAGES
from storage.enterprises import list_enterprises
from storage.memberships import verified_in
from storage.models import Member
from storage.notices import members_where

Choices = Callable[[AsyncSession, Translator], Awaitable[list[tuple[str, str]]]]
Resolve = Callable[[AsyncSession, str], Awaitable[list[int]]]


@dataclass(frozen=True)
class Audience:
    choices: Choices
    """(value, label) pairs the officer picks from; value "" for an audience without one."""
    resolve: Resolve
    describe: Callable[[AsyncSession, Translator, str], Awaitable[str]]


AUDIENCES: dict[str, Audience] = {}


def register_audience(name: str, audience: Audience) -> None:
    if name in AUDIENCES or ":" in name:
        raise ValueError(f"audience {name!r} is taken or has a colon")
    AUDIENCES[name] = audience


def split(choice: str) -> tuple[str, str]:
    """``"town:坎墩街道"`` -> ``("town", "坎墩街道")``."""
    name, _, value = choice.partition(":")
    return name, value


async def choices(session: AsyncSession, t: Translator) -> list[tuple[str, str]]:
    """Every audience's choices, as ``name:value`` and a label."""
    found = []
    for name, audience in AUDIENCES.items():
        found += [(f"{name}:{value}", label) for value, label in await audience.choices(session, t)]
    return found


async def resolve(session: AsyncSession, name: str, value: str) -> list[int]:
    audience = AUDIENCES.get(name)
    return [] if audience is None else await audience.resolve(session, value)


async def describe(session: AsyncSession, t: Translator, name: str, value: str) -> str:
    audience = AUDIENCES.get(name)
    return name if audience is None else await audience.describe(session, t, value)


async def _everyone_choices(session: AsyncSession, t: Translator) -> list[tuple[str, str]]:
    return [("", t("audience.everyone"))]


async def _everyone(session: AsyncSession, value: str) -> list[int]:
    return await members_where(session)


async def _everyone_label(session: AsyncSession, t: Translator, value: str) -> str:
    return t("audience.everyone")


async def _town_choices(session: AsyncSession, t: Translator) -> list[tuple[str, str]]:
    towns = await session.scalars(
        select(Member.town).where(Member.town.is_not(None)).distinct().order_by(Member.town)
    )
    return [(town, t("audience.town", town=town)) for town in towns if town]


async def _town(session: AsyncSession, value: str) -> list[int]:
    return await members_where(session, Member.town == value)


async def _town_label(session: AsyncSession, t: Translator, value: str) -> str:
    return t("audience.town", town=value)


async def _enterprise_choices(session: AsyncSession, t: Translator) -> list[tuple[str, str]]:
    return [
        (str(e.id), t("audience.enterprise", name=e.name)) for e in await list_enterprises(session)
    ]


async def _enterprise(session: AsyncSession, value: str) -> list[int]:
    """An enterprise's verified members: picking it in /me is only a request."""
    if not value.isdigit():
        return []
    return await members_where(session, verified_in(int(value)))


async def _enterprise_label(session: AsyncSession, t: Translator, value: str) -> str:
    names = {str(e.id): e.name for e in await list_enterprises(session)}
    return t("audience.enterprise", name=names.get(value, value))


LANGUAGE_LABELS = {"zh_CN": N_("audience.language_zh"), "en": N_("audience.language_en")}


async def _language_choices(session: AsyncSession, t: Translator) -> list[tuple[str, str]]:
    return [(code, t(LANGUAGE_LABELS[code])) for code in LANGUAGES]


async def _language(session: AsyncSession, value: str) -> list[int]:
    return await members_where(session, Member.language == value)


async def _language_label(session: AsyncSession, t: Translator, value: str) -> str:
    return t(LANGUAGE_LABELS.get(value, "audience.everyone"))


register_audience("all", Audience(_everyone_choices, _everyone, _everyone_label))
register_audience("town", Audience(_town_choices, _town, _town_label))
register_audience("enterprise", Audience(_enterprise_choices, _enterprise, _enterprise_label))
register_audience("language", Audience(_language_choices, _language, _language_label))
