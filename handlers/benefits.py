"""What can I get? The alliance's partner units by category, city, keyword or distance, each
with whether this member may use it and why not; and the other union benefits.

Results come a page at a time with "next page" buttons that replace the page shown.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date
from typing import TypeVar

from bot.context import Context
from bot.i18n import N_, Translator
from bot.messages import MAX_PAYLOAD_BYTES, Button, Location, rows
from bot.numbers import read_id
from bot.router import FreeText, Router
from storage import benefits, model_workers
from storage.benefits import Found, Ineligible, service_problem, usable_services
from storage.models.benefits import Category, Level, OtherBenefit, PartnerUnit, UnitService
from storage.types import utcnow

router = Router("benefits")
router.menu(N_("menu.benefits"), "bn", order=300)

PAGE_SIZE = 5
T = TypeVar("T")

CATEGORY_LABELS = {
    Category.MEDICAL: N_("benefits.cat.medical"),
    Category.DINING: N_("benefits.cat.dining"),
    Category.LODGING: N_("benefits.cat.lodging"),
    Category.TRAVEL: N_("benefits.cat.travel"),
    Category.FINANCE: N_("benefits.cat.finance"),
    Category.CULTURE: N_("benefits.cat.culture"),
    Category.OTHER: N_("benefits.cat.other"),
}
LEVEL_LABELS = {
    Level.CITY: N_("benefits.level.city"),
    Level.PROVINCIAL: N_("benefits.level.provincial"),
    Level.NATIONAL: N_("benefits.level.national"),
}
KIND_LABELS = {
    "priority": N_("benefits.kind.priority"),
    "quality": N_("benefits.kind.quality"),
    "price": N_("benefits.kind.price"),
}


def level_label(t: Translator, level: str) -> str:
    return t(LEVEL_LABELS[Level(level)])


def today(ctx: Context) -> date:
    return utcnow().astimezone(ctx.settings.zone).date()


def _why(t: Translator, problem: str, service: UnitService, level: str | None) -> str:
    if problem == Ineligible.NOT_YET:
        return t(problem, date=service.valid_from.isoformat())
    if problem == Ineligible.EXPIRED:
        assert service.valid_until is not None
        return t(problem, date=service.valid_until.isoformat())
    needed = level_label(t, service.min_level)
    if problem == Ineligible.LEVEL:
        assert level is not None
        return t(problem, needed=needed, mine=level_label(t, level))
    return t(problem, needed=needed)


def unit_verdict(t: Translator, unit: PartnerUnit, level: str | None, on: date) -> str:
    """One line: how many services the member may use here, or the main reason why not."""
    usable = usable_services(unit, level, on)
    if usable:
        return t("benefits.eligible", count=len(usable))
    if not unit.services:
        return t("benefits.no_services")
    problems = [(service_problem(s, level, on) or "", s) for s in unit.services]
    order = [Ineligible.LEVEL, Ineligible.NOT_A_MODEL_WORKER, Ineligible.NOT_YET]
    for wanted in order:
        matching = [s for p, s in problems if p == wanted]
        if matching:
            easiest = min(matching, key=lambda s: (Level(s.min_level).rank, s.valid_from))
            return "❌ " + _why(t, wanted, easiest, level)
    latest = max((s for _, s in problems), key=lambda s: s.valid_until or s.valid_from)
    return "❌ " + _why(t, Ineligible.EXPIRED, latest, level)


def _fit(payload: str) -> str:
    """Shorten a payload (a keyword at its end) to the 64 bytes Telegram allows."""
    while len(payload.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        payload = payload[:-1]
    return payload


async def show_units(
    ctx: Context,
    title: str,
    found: list[Found],
    page: int,
    page_payload: Callable[[int], str],
) -> None:
    if not found:
        ctx.reply(title + "\n" + ctx.t("benefits.none_found"), _back(ctx), replaces_menu=True)
        return
    page, pages, shown = _page_of(found, page)
    level = await model_workers.verified_level(ctx.session, ctx.member.id)
    on = today(ctx)
    lines = [ctx.t("benefits.page", title=title, page=page, pages=pages, total=len(found))]
    buttons = []
    for number, item in enumerate(shown, (page - 1) * PAGE_SIZE + 1):
        unit = item.unit
        where = f"{ctx.t(CATEGORY_LABELS[Category(unit.category)])} · {unit.city}"
        if item.distance_km is not None:
            where += " · " + ctx.t("benefits.distance", km=f"{item.distance_km:.1f}")
        lines.append(f"{number}. {unit.name}（{where}）\n   {unit_verdict(ctx.t, unit, level, on)}")
        buttons.append([Button(f"{number}. {unit.name}", f"bnu:{unit.id}")])
    navigation = _navigation(ctx, page, pages, page_payload)
    ctx.reply("\n".join(lines), rows(*buttons, navigation, *_back(ctx)), replaces_menu=True)


def _page_of(items: Sequence[T], page: int) -> tuple[int, int, Sequence[T]]:
    """The asked page, kept within those that exist; how many there are; its items."""
    pages = (len(items) + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(max(page, 1), pages)
    return page, pages, items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]


def _navigation(
    ctx: Context, page: int, pages: int, page_payload: Callable[[int], str]
) -> list[Button]:
    """ "Previous" and "next" buttons where there is such a page."""
    navigation = []
    if page > 1:
        navigation.append(Button(ctx.t("benefits.previous"), _fit(page_payload(page - 1))))
    if page < pages:
        navigation.append(Button(ctx.t("benefits.next"), _fit(page_payload(page + 1))))
    return navigation


def _back(ctx: Context) -> tuple[tuple[Button, ...], ...]:
    return rows([Button(ctx.t("benefits.back"), "bn"), Button(ctx.t("menu.button"), "menu")])


def _page_and_rest(args: str) -> tuple[int, str]:
    page, _, rest = args.partition(":")
    return (parse_id(page) or 1), rest


def parse_id(text: str) -> int | None:
    """A row id or page number from a payload or command (``#12`` too)."""
    return read_id(text.strip().lstrip("#"))


@router.command("benefits", help=N_("help.benefits"), private=True)
async def benefits_command(ctx: Context) -> None:
    if ctx.args:
        await _search(ctx, ctx.args, 1)
    else:
        await browse(ctx)


ASKING_FOR_BENEFITS = frozenset(
    {"福利", "查福利", "有什么福利", "我能享受什么", "我能享受什么福利", "劳模福利", "三优"}
    | {"benefits", "what can i get", "what can i get?"}
)
"""Plain questions answered with the benefits menu, as if the member sent /benefits."""


@router.text(FreeText.KEYWORD)
async def asked_for_benefits(ctx: Context) -> bool:
    text = (ctx.message.text or "").strip().lower().rstrip("？?")
    if text not in ASKING_FOR_BENEFITS and text + "?" not in ASKING_FOR_BENEFITS:
        return False
    await browse(ctx)
    return True


@router.button("bn", private=True)
async def browse(ctx: Context) -> None:
    count = await benefits.count_units(ctx.session)
    categories = [Button(ctx.t(label), f"bnc:{c.value}") for c, label in CATEGORY_LABELS.items()]
    grid = [categories[i : i + 2] for i in range(0, len(categories), 2)]
    ctx.reply(
        ctx.t("benefits.title", count=count),
        rows(
            *grid,
            [Button(ctx.t("benefits.by_city"), "bny"), Button(ctx.t("benefits.other"), "bno")],
            [Button(ctx.t("benefits.my_status"), "mw")],
        ),
        replaces_menu=ctx.message.payload is not None,
    )


@router.button("bnc", private=True)
async def by_category(ctx: Context) -> None:
    name, _, page = ctx.args.partition(":")
    if name not in set(Category):
        ctx.reply(ctx.t("input.stale_button"), _back(ctx))
        return
    category = Category(name)
    found = await benefits.units_in_category(ctx.session, category)
    title = ctx.t(CATEGORY_LABELS[category])
    number = parse_id(page) or 1
    await show_units(ctx, title, found, number, lambda p: f"bnc:{category.value}:{p}")


@router.button("bny", private=True)
async def by_city(ctx: Context) -> None:
    if not ctx.args:
        cities = await benefits.cities(ctx.session)
        buttons = [Button(city, _fit(f"bny:1:{city}")) for city in cities]
        grid = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
        ctx.reply(ctx.t("benefits.choose_city"), rows(*grid, *_back(ctx)), replaces_menu=True)
        return
    page, city = _page_and_rest(ctx.args)
    found = await benefits.units_in_city(ctx.session, city)
    await show_units(ctx, city, found, page, lambda p: f"bny:{p}:{city}")


@router.button("bns", private=True)
async def search_page(ctx: Context) -> None:
    page, keyword = _page_and_rest(ctx.args)
    await _search(ctx, keyword, page)


async def _search(ctx: Context, keyword: str, page: int) -> None:
    keyword = keyword.strip()[: benefits.MAX_KEYWORD]
    found = await benefits.search_units(ctx.session, keyword)
    title = ctx.t("benefits.search_title", keyword=keyword)
    await show_units(ctx, title, found, page, lambda p: f"bns:{p}:{keyword}")


@router.location()
async def nearest(ctx: Context) -> None:
    location = ctx.message.location
    assert location is not None
    await _nearest(ctx, location.latitude, location.longitude, 1)


@router.button("bnl", private=True)
async def nearest_page(ctx: Context) -> None:
    page, rest = _page_and_rest(ctx.args)
    latitude, _, longitude = rest.partition(":")
    try:
        place = Location(float(latitude), float(longitude))
    except ValueError:
        place = Location(math.nan, math.nan)
    if not (-90 <= place.latitude <= 90 and -180 <= place.longitude <= 180):
        ctx.reply(ctx.t("input.stale_button"), _back(ctx))
        return
    await _nearest(ctx, place.latitude, place.longitude, page)


async def _nearest(ctx: Context, latitude: float, longitude: float, page: int) -> None:
    found = await benefits.nearest_units(ctx.session, latitude, longitude)
    title = ctx.t("benefits.nearest_title")
    await show_units(ctx, title, found, page, lambda p: f"bnl:{p}:{latitude:.4f}:{longitude:.4f}")


@router.button("bnu", private=True)
async def unit_details(ctx: Context) -> None:
    unit_id = parse_id(ctx.args)
    unit = await benefits.get_unit(ctx.session, unit_id) if unit_id else None
    if unit is None:
        ctx.reply(ctx.t("input.stale_button"), _back(ctx))
        return
    level = await model_workers.verified_level(ctx.session, ctx.member.id)
    on = today(ctx)
    lines = [
        ctx.t(
            "benefits.unit",
            name=unit.name,
            category=ctx.t(CATEGORY_LABELS[Category(unit.category)]),
            city=unit.city,
            address=unit.address,
            phone=unit.phone or "–",
            hours=unit.hours or "–",
        )
    ]
    for service in unit.services:
        problem = service_problem(service, level, on)
        verdict = "✅" if problem is None else "❌ " + _why(ctx.t, problem, service, level)
        kind = ctx.t(KIND_LABELS[service.kind])
        lines.append(f"• {kind}：{service.what}\n   {verdict}")
    if usable_services(unit, level, on):
        lines.append(ctx.t("benefits.show_code"))
    ctx.reply("\n".join(lines), _back(ctx), replaces_menu=True)


@router.button("bno", private=True)
async def other_benefits(ctx: Context) -> None:
    found = await benefits.list_other_benefits(ctx.session)
    if not found:
        ctx.reply(ctx.t("benefits.none_found"), _back(ctx), replaces_menu=True)
        return
    page, pages, shown = _page_of(found, _page_and_rest(ctx.args)[0])
    title = ctx.t("benefits.other")
    lines = [ctx.t("benefits.page", title=title, page=page, pages=pages, total=len(found))]
    buttons = []
    for number, benefit in enumerate(shown, (page - 1) * PAGE_SIZE + 1):
        lines.append(
            f"{number}. {benefit.title}" + (f"（{benefit.amount}）" if benefit.amount else "")
        )
        buttons.append([Button(f"{number}. {benefit.title}", f"bnb:{benefit.id}")])
    navigation = _navigation(ctx, page, pages, lambda n: f"bno:{n}")
    ctx.reply("\n".join(lines), rows(*buttons, navigation, *_back(ctx)), replaces_menu=True)


@router.button("bnb", private=True)
async def other_benefit(ctx: Context) -> None:
    benefit_id = parse_id(ctx.args)
    benefit = await ctx.session.get(OtherBenefit, benefit_id) if benefit_id else None
    if benefit is None:
        ctx.reply(ctx.t("input.stale_button"), _back(ctx))
        return
    on = today(ctx)
    if benefit.valid_from is not None and on < benefit.valid_from:
        when = ctx.t("benefits.why.not_yet", date=benefit.valid_from.isoformat())
    elif benefit.valid_until is not None and on > benefit.valid_until:
        when = ctx.t("benefits.why.expired", date=benefit.valid_until.isoformat())
    else:
        when = ctx.t("benefits.open_now")
    ctx.reply(
        ctx.t(
            "benefits.benefit",
            title=benefit.title,
            provider=benefit.provider or "–",
            eligible=benefit.eligible,
            how=benefit.how_to_apply,
            amount=benefit.amount or "–",
            when=when,
        ),
        rows([Button(ctx.t("benefits.back"), "bno")]),
        replaces_menu=True,
    )
