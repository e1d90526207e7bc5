"""Singles' events: members list, sign up, cancel and see their places; officers create
events, list participants and check people in with the code each one received.

Each event has two reminder jobs (:mod:`bot.reminders`, kind ``event``), 24 h and 2 h
before it starts, scheduled when the event is created (or, for seeded events, by
:func:`schedule_reminders` after the import). When one fires it goes to the confirmed
sign-ups of that moment who have reminders on, so cancelling a sign-up needs nothing.
Officers can send a notice to an event's participants (audience ``event``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, SQLColumnExpression
from sqlalchemy.ext.asyncio import AsyncSession

from bot.audience import Audience
from bot.context import Context, MessageBuilder
from bot.dialogs import (
    CHOICES_SHOWN,
    Field,
    Form,
    Invalid,
    choice_field,
    fixed_choices,
    start_form,
    text_field,
)
from bot.i18n import N_, Translator
from bot.messages import Button, Outgoing, rows
from bot.numbers import read_id, read_number, read_numbers
from bot.paging import navigation, page_of
from bot.payloads import Payload
from bot.router import Router
from storage import events
from storage.models import Role
from storage.models.events import Event, Side, SignUp, SignUpStatus
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.app import App


@dataclass(frozen=True)
class EventsPage(Payload, prefix="ev:p"):
    page: int


@dataclass(frozen=True)
class SignUpPress(Payload, prefix="ev:s"):
    event_id: int


@dataclass(frozen=True)
class CancelPress(Payload, prefix="ev:c"):
    event_id: int


@dataclass(frozen=True)
class ParticipantsPage(Payload, prefix="evp"):
    event_id: int
    page: int


router = Router("events")
router.menu(N_("menu.events"), "ev:list", order=310)

TIME_FORMAT = "%Y-%m-%d %H:%M"
PAGE_SIZE = 20
EVENTS_PER_PAGE = 5
YES_NO = fixed_choices(("yes", "events.yes"), ("no", "events.no"))
SIDE_NAMES = {Side.FEMALE: "events.side.f", Side.MALE: "events.side.m", Side.ALL: "events.side.all"}
PARTICIPANT_LINES = {
    SignUpStatus.CONFIRMED: "events.participant.confirmed",
    SignUpStatus.WAITLIST: "events.participant.waitlist",
}
SUMMARY_FIELDS = (
    ("title", "events.field.title"),
    ("place", "events.field.place"),
    ("starts", "events.field.starts"),
    ("ends", "events.field.ends"),
    ("deadline", "events.field.deadline"),
    ("women", "events.field.women"),
    ("men", "events.field.men"),
    ("total", "events.field.total"),
    ("ages", "events.field.ages"),
    ("profile_required", "events.field.profile_required"),
)


def local(ctx: Context, when: datetime) -> str:
    return when.astimezone(ctx.settings.zone).strftime(TIME_FORMAT)


def parse_time(answer: str) -> str:
    """A local time ``YYYY-MM-DD HH:MM``, kept as text until the form is saved in UTC."""
    try:
        return datetime.strptime(answer.strip(), TIME_FORMAT).strftime(TIME_FORMAT)
    except ValueError:
        raise Invalid("events.bad_time") from None


def parse_places(answer: str) -> int:
    places = read_number(answer, maximum=1000)
    if places is None:
        raise Invalid("events.bad_places")
    return places


def parse_ages(answer: str) -> list[int]:
    numbers = read_numbers(answer.replace("～", " ").replace("~", " ").replace("-", " "))
    if numbers is None or len(numbers) != 2 or not 18 <= numbers[0] <= numbers[1] <= 99:
        raise Invalid("events.bad_ages")
    return numbers


def describe_places(t: Translator, places: events.Places) -> str:
    event = places.event
    if event.split:
        return t(
            "events.places_split",
            women=places.left(Side.FEMALE),
            men=places.left(Side.MALE),
        )
    return t("events.places_total", left=places.left(Side.ALL))


def event_card(ctx: Context, places: events.Places) -> str:
    event = places.event
    ages = (
        ctx.t("events.ages", minimum=event.age_min or 18, maximum=event.age_max or 99)
        if event.age_min or event.age_max
        else ""
    )
    return ctx.t(
        "events.card",
        number=event.id,
        title=event.title,
        starts=local(ctx, event.starts_at),
        place=event.place,
        deadline=local(ctx, event.signup_deadline),
        places=describe_places(ctx.t, places),
        ages=ages,
        description=event.description,
    )


@router.command("events", help=N_("help.events"))
@router.button("ev", private=True)
async def list_events(ctx: Context) -> None:
    await events_page(ctx, EventsPage(1))


@router.button(EventsPage, private=True)
async def events_page(ctx: Context, press: EventsPage) -> None:
    asked = press.page
    now = utcnow()
    page = page_of(asked, await events.upcoming_count(ctx.session, now), EVENTS_PER_PAGE)
    if not page.total:
        ctx.reply(ctx.t("events.none"), ctx.dispatcher.menu_button(ctx))
        return
    shown = await events.upcoming(ctx.session, now, page.offset, page.size)
    header = ctx.t("events.page", page=page.number, pages=page.pages, total=page.total)
    buttons = [
        [
            Button(
                ctx.t("events.button.sign_up", number=p.event.id), SignUpPress(p.event.id).pack()
            ),
            Button(
                ctx.t("events.button.cancel", number=p.event.id), CancelPress(p.event.id).pack()
            ),
        ]
        for p in shown
    ]
    ctx.reply(
        "\n\n".join([header, *(event_card(ctx, places) for places in shown)]),
        rows(*buttons, navigation(ctx.t, page, lambda n: EventsPage(n).pack())),
        replaces_menu=ctx.message.payload is not None,
    )


@router.button(SignUpPress, private=True)
async def sign_up(ctx: Context, press: SignUpPress) -> None:
    event_id = press.event_id
    row = await events.sign_up(ctx.session, event_id, ctx.member.id, utcnow())
    event = await ctx.session.get(Event, event_id)
    assert event is not None
    if row.status == SignUpStatus.CONFIRMED:
        ctx.reply(ctx.t("events.signed_up", title=event.title, code=row.code))
    else:
        position = await events.waitlist_position(ctx.session, row)
        ctx.reply(ctx.t("events.waitlisted", title=event.title, position=position))


@router.button(CancelPress, private=True)
async def cancel(ctx: Context, press: CancelPress) -> None:
    promoted = await events.cancel_sign_up(ctx.session, press.event_id, ctx.member.id, utcnow())
    ctx.reply(ctx.t("events.cancelled"))
    if promoted is not None:
        await tell_promoted(ctx, promoted)


async def tell_promoted(ctx: Context, row: SignUp) -> None:
    """Tell the member moved from the waitlist into a freed place, with their check-in code."""
    event = await ctx.session.get(Event, row.event_id)
    if row.member_id is None or event is None:
        return
    title, code = event.title, row.code or ""
    ctx.send(row.member_id, lambda t: Outgoing(t("events.promoted", title=title, code=code)))


@router.command("myevents", help=N_("help.myevents"), private=True)
async def my_events(ctx: Context) -> None:
    mine = await events.member_sign_ups(ctx.session, ctx.member.id, utcnow())
    if not mine:
        ctx.reply(ctx.t("events.mine_none"))
        return
    lines = []
    for row, event in mine:
        if row.status == SignUpStatus.CONFIRMED:
            status = ctx.t("events.status.confirmed", code=row.code)
        else:
            position = await events.waitlist_position(ctx.session, row)
            status = ctx.t("events.status.waitlist", position=position)
        lines.append(f"#{event.id} {event.title} · {local(ctx, event.starts_at)} · {status}")
    ctx.reply(ctx.t("events.mine") + "\n" + "\n".join(lines))


async def summarise_event(ctx: Context, data: dict[str, Any]) -> str:
    lines = []
    for name, label in SUMMARY_FIELDS:
        value = data.get(name)
        if isinstance(value, list):
            value = "-".join(str(v) for v in value)
        lines.append(f"{ctx.t(label)}: {'-' if value is None else value}")
    return "\n".join(lines)


async def save_event(ctx: Context, data: dict[str, Any]) -> None:
    zone = ctx.settings.zone

    def when(name: str) -> datetime:
        return datetime.strptime(data[name], TIME_FORMAT).replace(tzinfo=zone)

    starts, ends, deadline = when("starts"), when("ends"), when("deadline")
    if ends <= starts or deadline > starts:
        raise Invalid("events.bad_times")
    if starts <= utcnow():
        raise Invalid("events.in_the_past")
    split = bool(data["women"] or data["men"])
    if not split and not data.get("total"):
        raise Invalid("events.need_places")
    ages = data.get("ages") or [None, None]
    event = Event(
        title=data["title"],
        description=data["description"],
        place=data["place"],
        starts_at=starts,
        ends_at=ends,
        signup_deadline=deadline,
        places_women=data["women"] if split else None,
        places_men=data["men"] if split else None,
        places_total=None if split else data["total"],
        age_min=ages[0],
        age_max=ages[1],
        profile_required=data["profile_required"] == "yes",
    )
    if await events.event_by_title(ctx.session, event.title) is not None:
        raise Invalid("events.title_taken")
    ctx.session.add(event)
    await ctx.session.flush()
    for due in reminder_times(event.starts_at, utcnow()):
        ctx.schedule(REMINDER_KIND, event.id, due)
    ctx.reply(ctx.t("events.created", number=event.id, title=event.title))


event_form = router.form(
    Form(
        name="event",
        fields=(
            text_field("title", N_("events.ask.title"), min_length=2, max_length=80),
            text_field("description", N_("events.ask.description"), max_length=1000),
            text_field("place", N_("events.ask.place"), min_length=2, max_length=100),
            Field("starts", N_("events.ask.starts"), parse=parse_time),
            Field("ends", N_("events.ask.ends"), parse=parse_time),
            Field("deadline", N_("events.ask.deadline"), parse=parse_time),
            Field("women", N_("events.ask.women"), parse=parse_places),
            Field("men", N_("events.ask.men"), parse=parse_places),
            Field("total", N_("events.ask.total"), parse=parse_places, optional=True),
            Field("ages", N_("events.ask.ages"), parse=parse_ages, optional=True),
            choice_field("profile_required", N_("events.ask.profile_required"), YES_NO),
        ),
        on_done=save_event,
        summary=summarise_event,
    )
)


@router.command("newevent", help=N_("help.newevent"), role=Role.OFFICER)
async def new_event(ctx: Context) -> None:
    await start_form(ctx, event_form)


@router.command("participants", help=N_("help.participants"), role=Role.OFFICER, private=True)
async def participants_command(ctx: Context) -> None:
    """``/participants EVENT [PAGE]``."""
    parts = read_numbers(ctx.args)
    if not parts or len(parts) > 2:
        ctx.reply(ctx.t("events.participants_usage"))
        return
    await list_participants(ctx, ParticipantsPage(parts[0], parts[1] if len(parts) > 1 else 1))


@router.button(ParticipantsPage, role=Role.OFFICER, private=True)
async def list_participants(ctx: Context, press: ParticipantsPage) -> None:
    event = await ctx.session.get(Event, press.event_id) if press.event_id else None
    if event is None:
        ctx.reply(ctx.t("events.unknown"))
        return
    page = max(press.page, 1)
    everyone = await events.participants(ctx.session, event.id)
    shown = everyone[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    lines = [
        ctx.t(
            PARTICIPANT_LINES[SignUpStatus(row.status)],
            name=name or "-",
            side=ctx.t(SIDE_NAMES[Side(row.side)]),
            checked=ctx.t("events.checked_in") if row.checked_in_at else "",
        )
        for row, name in shown
    ]
    more = page * PAGE_SIZE < len(everyone)
    buttons = rows(
        [Button(ctx.t("events.button.next_page"), ParticipantsPage(event.id, page + 1).pack())]
        if more
        else []
    )
    header = ctx.t("events.participants", title=event.title, count=len(everyone), page=page)
    ctx.reply(header + "\n" + "\n".join(lines), buttons)


@router.command("checkin", help=N_("help.checkin"), role=Role.OFFICER, private=True)
async def check_in(ctx: Context) -> None:
    if not ctx.args:
        ctx.reply(ctx.t("events.checkin_usage"))
        return
    row = await events.check_in(ctx.session, ctx.args, utcnow())
    names = dict((r.id, n) for r, n in await events.participants(ctx.session, row.event_id))
    event = await ctx.session.get(Event, row.event_id)
    assert event is not None
    ctx.reply(ctx.t("events.checked_in_ok", name=names.get(row.id, "-"), title=event.title))


# Reminders: one job per event and lead time, fanning out to the confirmed sign-ups.

REMINDER_KIND = "event"
REMIND_BEFORE = (timedelta(hours=24), timedelta(hours=2))
"""A reminder goes this long before the event starts (each still in the future)."""


def reminder_times(starts: datetime, now: datetime) -> list[datetime]:
    return [starts - before for before in REMIND_BEFORE if starts - before > now]


async def schedule_reminders(app: App, now: datetime) -> int:
    """(Re)schedule the reminders of every event not started yet; returns the job count.

    For events that arrive without a handler (the ``events`` seed section): job ids are
    ``event:ID:TIME``, so running this again replaces rather than doubles, and an event
    whose time changed loses its old jobs first.
    """
    async with app.sessions() as session:
        upcoming = [(e.id, e.starts_at) for e in await events.events_from(session, now)]
    scheduled = [
        (REMINDER_KIND, event_id, due)
        for event_id, starts in upcoming
        for due in reminder_times(starts, now)
    ]
    await app.jobs.apply(scheduled, [(REMINDER_KIND, event_id) for event_id, _ in upcoming])
    return len(scheduled)


async def reminder_fan_out(
    app: App, session: AsyncSession, event_id: int
) -> list[tuple[int, MessageBuilder]]:
    event = await session.get(Event, event_id)
    if event is None or event.starts_at <= utcnow():
        return []
    title, place = event.title, event.place
    when = event.starts_at.astimezone(app.settings.zone).strftime(TIME_FORMAT)

    def build(t: Translator) -> Outgoing:
        return Outgoing(t("events.reminder", title=title, when=when, place=place))

    member_ids = await events.confirmed_members(session, event_id, reminders_on=True)
    return [(member_id, build) for member_id in member_ids]


router.reminder(REMINDER_KIND)(reminder_fan_out)


# The "event participants" audience for officers' notices.


async def _audience_choices(
    session: AsyncSession, t: Translator, word: str
) -> list[tuple[str, str]]:
    """The soonest coming events, or those whose title has the word."""
    found = await events.coming_titled(session, utcnow(), word, CHOICES_SHOWN)
    return [(str(event.id), t("events.audience", title=event.title)) for event in found]


def _audience_members(value: SQLColumnExpression[str]) -> ColumnElement[bool]:
    return events.confirmed_at(value)


async def _audience_label(session: AsyncSession, t: Translator, value: str) -> str:
    event_id = read_id(value)
    event = await session.get(Event, event_id) if event_id else None
    return t("events.audience", title=event.title if event else value)


router.audience("event", Audience(_audience_choices, _audience_members, _audience_label))
