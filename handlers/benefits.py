"""What can I get? The alliance's partner units by category, city, keyword or distance, each
with whether this member may use it and why not; and the other union benefits.

Results come a page at a time with "next page" buttons that replace the page shown. A
city or keyword too long for a button is cut there; a cut city is read back as the city
whose button it is, a cut keyword is searched as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from bot.context import Context
from bot.i18n import N_, Translator
from bot.messages import MAX_PAYLOAD_BYTES, Button, rows
from bot.numbers import read_id
from bot.payloads import Payload
from bot.router import FreeText, Router
from storage import benefits, model_workers, places
from storage.benefits import Found, Ineligible, service_problem, usable_services
from storage.models.benefits import Category, Level, OtherBenefit, PartnerUnit, UnitService
from storage.types import utcnow

router = Router("benefits")
router.menu(N_("menu.benefits"), "bn", order=300)

PAGE_SIZE = 5
T = TypeVar("T")
P = TypeVar("P", bound=Payload)

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


@dataclass(frozen=True)
class CategoryPage(Payload, prefix="bnc"):
    category: str
    page: int = 1


@dataclass(frozen=True)
class CityPage(Payload, prefix="bny"):
    """A city's units; without a city (``bny``), the list of cities."""

    page: int = 1
    city: str = ""


@dataclass(frozen=True)
class SearchPage(Payload, prefix="bns"):
    page: int
    keyword: str


@dataclass(frozen=True)
class NearestPage(Payload, prefix="bnl"):
    page: int
    latitude: float
    longitude: float


@dataclass(frozen=True)
class UnitDetails(Payload, prefix="bnu"):
    unit_id: int


@dataclass(frozen=True)
class OtherBenefitsPage(Payload, prefix="bno"):
    page: int = 1


@dataclass(frozen=True)
class BenefitDetails(Payload, prefix="bnb"):
    benefit_id: int


def _cut_to_fit(make: Callable[[str], P], text: str) -> P:
    """``make(text)``, the text (its last field) cut at a character to fit in a button."""
    room = MAX_PAYLOAD_BYTES - len(make("x").pack().encode("utf-8")) + 1
    return make(text.encode("utf-8")[:room].decode("utf-8", "ignore"))


def _city_page(page: int, city: str) -> CityPage:
    return _cut_to_fit(lambda cut: CityPage(page, cut), city)


def _search_page(page: int, keyword: str) -> str:
    return _cut_to_fit(lambda cut: SearchPage(page, cut), keyword).pack()


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
        buttons.append([Button(f"{number}. {unit.name}", UnitDetails(unit.id).pack())])
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
        navigation.append(Button(ctx.t("benefits.previous"), page_payload(page - 1)))
    if page < pages:
        navigation.append(Button(ctx.t("benefits.next"), page_payload(page + 1)))
    return navigation


def _back(ctx: Context) -> tuple[tuple[Button, ...], ...]:
    return rows([Button(ctx.t("benefits.back"), "bn"), Button(ctx.t("menu.button"), "menu")])


def parse_id(text: str) -> int | None:
    """A row id from a command (``#12`` too)."""
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
    categories = [
        Button(ctx.t(label), CategoryPage(c.value).pack()) for c, label in CATEGORY_LABELS.items()
    ]
    grid = [categories[i : i + 2] for i in range(0, len(categories), 2)]
    place = await places.last_place(ctx.session, ctx.member.id)
    nearest = (
        [Button(ctx.t("benefits.nearest_known"), _nearest_page(1, *place))]
        if place is not None
        else []
    )
    ctx.reply(
        ctx.t("benefits.title", count=count),
        rows(
            *grid,
            nearest,
            [
                Button(ctx.t("benefits.by_city"), CityPage().pack()),
                Button(ctx.t("benefits.other"), OtherBenefitsPage().pack()),
            ],
            [Button(ctx.t("benefits.my_status"), "mw")],
        ),
        replaces_menu=ctx.message.payload is not None,
    )


@router.button(CategoryPage, private=True)
async def by_category(ctx: Context, press: CategoryPage) -> None:
    if press.category not in set(Category):
        ctx.reply(ctx.t("input.stale_button"), _back(ctx))
        return
    category = Category(press.category)
    found = await benefits.units_in_category(ctx.session, category)
    title = ctx.t(CATEGORY_LABELS[category])
    await show_units(ctx, title, found, press.page, lambda p: CategoryPage(category, p).pack())


@router.button(CityPage, private=True)
async def by_city(ctx: Context, press: CityPage) -> None:
    cities = await benefits.cities(ctx.session)
    if not press.city:
        buttons = [Button(city, _city_page(1, city).pack()) for city in cities]
        grid = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
        ctx.reply(ctx.t("benefits.choose_city"), rows(*grid, *_back(ctx)), replaces_menu=True)
        return
    city = next((c for c in cities if _city_page(press.page, c) == press), None)
    if city is None:
        ctx.reply(ctx.t("input.stale_button"), _back(ctx))
        return
    found = await benefits.units_in_city(ctx.session, city)
    await show_units(ctx, city, found, press.page, lambda p: _city_page(p, city).pack())


@router.button(SearchPage, private=True)
async def search_page(ctx: Context, press: SearchPage) -> None:
    await _search(ctx, press.keyword, press.page)


async def _search(ctx: Context, keyword: str, page: int) -> None:
    keyword = keyword.strip()[: benefits.MAX_KEYWORD]
    found = await benefits.search_units(ctx.session, keyword)
    title = ctx.t("benefits.search_title", keyword=keyword)
    await show_units(ctx, title, found, page, lambda p: _search_page(p, keyword))


@router.location()
async def nearest(ctx: Context) -> None:
    location = ctx.message.location
    assert location is not None
    await _nearest(ctx, location.latitude, location.longitude, 1)


@router.button(NearestPage, private=True)
async def nearest_page(ctx: Context, press: NearestPage) -> None:
    if not (-90 <= press.latitude <= 90 and -180 <= press.longitude <= 180):
        ctx.reply(ctx.t("input.stale_button"), _back(ctx))
        return
    await _nearest(ctx, press.latitude, press.longitude, press.page)


def _nearest_page(page: int, latitude: float, longitude: float) -> str:
    """To four decimals (about 11 m), which keeps the button short."""
    return NearestPage(page, round(latitude, 4), round(longitude, 4)).pack()


async def _nearest(ctx: Context, latitude: float, longitude: float, page: int) -> None:
    found = await benefits.nearest_units(ctx.session, latitude, longitude)
    title = ctx.t("benefits.nearest_title")
    await show_units(ctx, title, found, page, lambda p: _nearest_page(p, latitude, longitude))


@router.button(UnitDetails, private=True)
async def unit_details(ctx: Context, press: UnitDetails) -> None:
    unit = await benefits.get_unit(ctx.session, press.unit_id)
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


@router.button(OtherBenefitsPage, private=True)
async def other_benefits(ctx: Context, press: OtherBenefitsPage) -> None:
    found = await benefits.list_other_benefits(ctx.session)
    if not found:
        ctx.reply(ctx.t("benefits.none_found"), _back(ctx), replaces_menu=True)
        return
    page, pages, shown = _page_of(found, press.page)
    title = ctx.t("benefits.other")
    lines = [ctx.t("benefits.page", title=title, page=page, pages=pages, total=len(found))]
    buttons = []
    for number, benefit in enumerate(shown, (page - 1) * PAGE_SIZE + 1):
        lines.append(
            f"{number}. {benefit.title}" + (f"（{benefit.amount}）" if benefit.amount else "")
        )
        buttons.append([Button(f"{number}. {benefit.title}", BenefitDetails(benefit.id).pack())])
    navigation = _navigation(ctx, page, pages, lambda n: OtherBenefitsPage(n).pack())
    ctx.reply("\n".join(lines), rows(*buttons, navigation, *_back(ctx)), replaces_menu=True)


@router.button(BenefitDetails, private=True)
async def other_benefit(ctx: Context, press: BenefitDetails) -> None:
    benefit = await ctx.session.get(OtherBenefit, press.benefit_id)
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
        rows([Button(ctx.t("benefits.back"), OtherBenefitsPage().pack())]),
        replaces_menu=True,
    )
