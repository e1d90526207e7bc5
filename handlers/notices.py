"""Notices: officers compose, preview and send them; members browse them and ask for a
reminder before a deadline ("remind me").

A notice goes to an audience (:mod:`bot.audience`) now or at a chosen time; either way it
is recorded as a broadcast once (key ``notice:ID``) and the officer is answered at once:
the leader writes its outbox rows in batches (:mod:`bot.broadcasting`) and its sender
delivers them. The deadline reminder is the first reminder kind (:mod:`bot.reminders`):
one job per notice and lead time, fanning out to whoever pressed "remind me".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import audience
from bot.broadcasting import Recipients, Streamed, start
from bot.context import Context, MessageBuilder
from bot.delivery import MessageClass
from bot.dialogs import Choice, Field, Form, Invalid, choice_field, start_form, text_field
from bot.i18n import N_, Translator
from bot.messages import Button, Notification, Outgoing, rows
from bot.payloads import Payload
from bot.router import Router
from storage import notices
from storage.forecast import forecast
from storage.models import Notice, Role
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.app import App


@dataclass(frozen=True)
class NoticesPage(Payload, prefix="np"):
    page: int


@dataclass(frozen=True)
class OpenNotice(Payload, prefix="n"):
    notice_id: int


@dataclass(frozen=True)
class RemindMe(Payload, prefix="nrem"):
    notice_id: int


router = Router("notices")
router.menu(N_("menu.notices"), NoticesPage(0).pack(), order=300)
router.menu(N_("menu.compose_notice"), "ncompose", role=Role.OFFICER, order=310)

PAGE_SIZE = 5
DEADLINE_KIND = "notice_deadline"
SEND_KIND = "notice"
REMIND_BEFORE = (timedelta(hours=24), timedelta(hours=2))
"""A deadline reminder goes this long before the deadline (each still in the future)."""
TIME_FORMAT = "%Y-%m-%d %H:%M"
URGENT_WORDS = ("urgent", "紧急")
"""``/notice urgent``: the notice goes through quiet hours and, on WeChat, by template
before customer service and never by mass send."""


def local(when: datetime, ctx_zone: Any) -> str:
    return when.astimezone(ctx_zone).strftime(TIME_FORMAT)


def notice_message(t: Translator, notice: Notice, zone: Any, now: datetime) -> Outgoing:
    """The notice as members see it; the officer's preview is this very message."""
    lines = [f"📢 {notice.title}", "", notice.body]
    buttons: list[Button] = []
    if notice.deadline is not None:
        lines += ["", t("notices.deadline", when=local(notice.deadline, zone))]
        if notice.deadline > now:
            buttons.append(Button(t("notices.button.remind"), RemindMe(notice.id).pack()))
    if notice.link:
        buttons.append(Button(t("notices.button.link"), url=notice.link))
    return Outgoing("\n".join(lines), rows(buttons), notice.image)


def notice_builder(notice: Notice, zone: Any, now: datetime) -> MessageBuilder:
    return lambda t: notice_message(t, notice, zone, now)


# Members: browse and open notices, ask for a reminder.


@router.command("notices", help=N_("help.notices"), private=True)
async def list_notices_command(ctx: Context) -> None:
    await _show_page(ctx, 0)


@router.button(NoticesPage, private=True)
async def list_notices_page(ctx: Context, press: NoticesPage) -> None:
    await _show_page(ctx, press.page)


async def _show_page(ctx: Context, page: int) -> None:
    visible = notices.visible_to(ctx.member.id, audience.audiences_including())
    page_notices, total = await notices.recent_notices(
        ctx.session, utcnow(), page * PAGE_SIZE, PAGE_SIZE, visible
    )
    if total == 0:
        ctx.reply(ctx.t("notices.none"), ctx.dispatcher.menu_button(ctx))
        return
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    if not page_notices:
        await _show_page(ctx, 0)
        return
    lines = [ctx.t("notices.page_title", page=page + 1, pages=pages)]
    buttons = []
    for number, notice in enumerate(page_notices, page * PAGE_SIZE + 1):
        lines.append(f"{number}. {notice.title}")
        buttons.append([Button(f"{number}. {notice.title}"[:40], OpenNotice(notice.id).pack())])
    paging = []
    if page > 0:
        paging.append(Button(ctx.t("notices.button.previous"), NoticesPage(page - 1).pack()))
    if page + 1 < pages:
        paging.append(Button(ctx.t("notices.button.next"), NoticesPage(page + 1).pack()))
    ctx.reply(
        "\n".join(lines),
        rows(*buttons, paging, [Button(ctx.t("menu.button"), "menu")]),
        replaces_menu=ctx.message.payload is not None,
    )


async def _notice(ctx: Context, notice_id: int) -> Notice | None:
    """The notice the member asked for, if published and addressed to them; any other
    answers as a missing one does, so an id tells nothing of notices for others."""
    notice = await ctx.session.get(Notice, notice_id)
    if (
        notice is None
        or (notice.send_at is not None and notice.send_at > utcnow())
        or not await audience.belongs(
            ctx.session, ctx.member.id, notice.audience, notice.audience_value
        )
    ):
        ctx.reply(ctx.t("notices.gone"), ctx.dispatcher.menu_button(ctx))
        return None
    return notice


@router.button(OpenNotice, private=True)
async def open_notice(ctx: Context, press: OpenNotice) -> None:
    notice = await _notice(ctx, press.notice_id)
    if notice is not None:
        ctx.answer(notice_message(ctx.t, notice, ctx.settings.zone, utcnow()))


def reminder_times(deadline: datetime, now: datetime) -> list[datetime]:
    return [deadline - before for before in REMIND_BEFORE if deadline - before > now]


@router.button(RemindMe, private=True)
async def remind_me(ctx: Context, press: RemindMe) -> None:
    notice = await _notice(ctx, press.notice_id)
    if notice is None:
        return
    now = utcnow()
    if notice.deadline is None:
        ctx.reply(ctx.t("notices.no_deadline"))
        return
    times = reminder_times(notice.deadline, now)
    if not times:
        ctx.reply(ctx.t("notices.too_late"))
        return
    if not await notices.subscribe(ctx.session, DEADLINE_KIND, notice.id, ctx.member.id):
        ctx.reply(ctx.t("notices.already_reminding", when=local(times[0], ctx.settings.zone)))
        return
    for when in times:
        ctx.schedule(DEADLINE_KIND, notice.id, when)
    ctx.reply(
        ctx.t(
            "notices.will_remind",
            title=notice.title,
            when=", ".join(local(w, ctx.settings.zone) for w in times),
        )
    )


async def deadline_fan_out(
    app: App, session: AsyncSession, notice_id: int
) -> list[tuple[int, MessageBuilder]] | Streamed:
    """Whoever pressed "remind me" and is still in the notice's audience."""
    notice = await session.get(Notice, notice_id)
    if notice is None or notice.deadline is None:
        return []
    when = local(notice.deadline, app.settings.zone)
    title = notice.title

    def build(t: Translator) -> Outgoing:
        return Outgoing(
            t("notices.reminder", title=title, when=when),
            rows([Button(t("notices.button.open"), OpenNotice(notice_id).pack())]),
        )

    reminded = (DEADLINE_KIND, notice_id)
    return Streamed(Recipients(notice.audience, notice.audience_value, reminded), build)


router.reminder(DEADLINE_KIND, about_notice=True)(deadline_fan_out)


# Officers: compose, preview, confirm, send now or later.


async def send_notice(
    session: AsyncSession, app_like: Context | App, notice: Notice, now: datetime
) -> int | None:
    """Record the notice's broadcast to its audience, for the leader to write; how many
    members the audience has now (counted), or None when it went out before."""
    build = notice_builder(notice, app_like.settings.zone, now)
    to = Recipients(notice.audience, notice.audience_value)
    key = f"{SEND_KIND}:{notice.id}"
    started = await start(
        session,
        app_like.dispatcher.outbox,
        key,
        to,
        build,
        now,
        notice_id=notice.id,
        urgent=notice.urgent,
    )
    if started is None:
        return None
    return await audience.count(session, notice.audience, notice.audience_value)


async def scheduled_fan_out(
    app: App, session: AsyncSession, notice_id: int
) -> list[tuple[int, MessageBuilder]] | Streamed:
    notice = await session.get(Notice, notice_id)
    if notice is None:
        return []
    build = notice_builder(notice, app.settings.zone, utcnow())
    return Streamed(Recipients(notice.audience, notice.audience_value), build)


async def urgent_notice(session: AsyncSession, notice_id: int) -> bool:
    return bool(await session.scalar(select(Notice.urgent).where(Notice.id == notice_id)))


router.reminder(
    SEND_KIND,
    once_per_thing=True,
    about_notice=True,
    message_class=MessageClass.BROADCAST,
    urgent_of=urgent_notice,
)(scheduled_fan_out)


def _local_time_field(name: str, prompt: str) -> Field:
    def parse(answer: str) -> str:
        try:
            return datetime.strptime(answer.strip(), TIME_FORMAT).strftime(TIME_FORMAT)
        except ValueError:
            raise Invalid("notices.bad_time") from None

    return Field(name, prompt, parse=parse, optional=True)


def _web_address_field(name: str, prompt: str) -> Field:
    """A web address. An image is one too, never a file path: a path typed by an officer
    would let the channels send any file the server can read."""

    def parse(answer: str) -> str:
        answer = answer.strip()
        if not answer.startswith(("https://", "http://")) or len(answer) > 300 or " " in answer:
            raise Invalid("notices.bad_link")
        return answer

    return Field(name, prompt, parse=parse, optional=True)


async def audience_choices(ctx: Context) -> list[Choice]:
    return [Choice(value, label) for value, label in await audience.choices(ctx.session, ctx.t)]


async def search_audiences(ctx: Context, word: str) -> list[Choice]:
    found = await audience.choices(ctx.session, ctx.t, word)
    return [Choice(value, label) for value, label in found]


def _to_utc(ctx: Context, text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=ctx.settings.zone)


def _draft(ctx: Context, data: dict[str, Any]) -> Notice:
    name, value = audience.split(data["audience"])
    return Notice(
        id=0,
        title=data["title"],
        body=data["body"],
        link=data.get("link"),
        image=data.get("image"),
        deadline=_to_utc(ctx, data.get("deadline")),
        audience=name,
        audience_value=value,
        urgent=bool(data.get("urgent")),
    )


async def preview(ctx: Context, data: dict[str, Any]) -> str:
    draft = _draft(ctx, data)
    ctx.reply(ctx.t("notices.preview_intro"))
    ctx.answer(notice_message(ctx.t, draft, ctx.settings.zone, utcnow()))
    name, value = audience.split(data["audience"])
    count = await audience.count(ctx.session, name, value)
    send_at = data.get("send_at") or ctx.t("notices.now")
    summary = ctx.t(
        "notices.summary",
        audience=await audience.describe(ctx.session, ctx.t, name, value),
        count=count,
        when=send_at,
    )
    if draft.urgent:
        summary += "\n" + ctx.t("notices.urgent_summary")
    routes = await _routes(ctx, audience.condition(name, value), count, urgent=draft.urgent)
    return f"{summary}\n{routes}" if routes else summary


ROUTE_LABELS = (
    ("mass", N_("notices.route.mass")),
    ("customer_service", N_("notices.route.customer_service")),
    ("template", N_("notices.route.template")),
    ("inbox", N_("notices.route.inbox")),
    ("telegram", N_("notices.route.telegram")),
    ("other", N_("notices.route.other")),
)


async def _routes(ctx: Context, condition: ColumnElement[bool], count: int, *, urgent: bool) -> str:
    """How the notice will travel, by route ("about 180,000 by mass send, ..."): counted
    by the database, as things stand now."""
    figures = await forecast(
        ctx.session,
        condition,
        count,
        utcnow(),
        template_quota=(
            ctx.settings.wechat_template_quota
            if ctx.settings.wechat_template(Notification.NOTICE)
            else None
        ),
        urgent=urgent,
    )
    parts = [
        ctx.t(label, count=f"{getattr(figures, route):,}")
        for route, label in ROUTE_LABELS
        if getattr(figures, route)
    ]
    return ctx.t("notices.routes", routes=ctx.t.join(parts)) if parts else ""


async def save_notice(ctx: Context, data: dict[str, Any]) -> None:
    now = utcnow()
    draft = _draft(ctx, data)
    if draft.deadline is not None and draft.deadline <= now:
        raise Invalid("notices.deadline_past")
    send_at = _to_utc(ctx, data.get("send_at"))
    if send_at is not None and send_at <= now:
        send_at = None
    if await ctx.session.scalar(select(Notice.id).where(Notice.title == draft.title)):
        raise Invalid("notices.title_taken")
    notice = Notice(
        title=draft.title,
        body=draft.body,
        link=draft.link,
        image=draft.image,
        deadline=draft.deadline,
        audience=draft.audience,
        audience_value=draft.audience_value,
        author_id=ctx.member.id,
        created_at=now,
        send_at=send_at,
        urgent=draft.urgent,
    )
    ctx.session.add(notice)
    await ctx.session.flush()
    if send_at is None:
        count = await send_notice(ctx.session, ctx, notice, now) or 0
        ctx.reply(
            ctx.t("notices.sent", count=count), rows([Button(ctx.t("menu.broadcasts"), "bc")])
        )
    else:
        ctx.schedule(SEND_KIND, notice.id, send_at)
        ctx.reply(ctx.t("notices.scheduled", when=local(send_at, ctx.settings.zone)))


compose_form = router.form(
    Form(
        name="notice",
        fields=(
            text_field("title", N_("notices.ask_title"), min_length=2, max_length=60),
            text_field("body", N_("notices.ask_body"), min_length=2, max_length=2000),
            _web_address_field("link", N_("notices.ask_link")),
            _web_address_field("image", N_("notices.ask_image")),
            _local_time_field("deadline", N_("notices.ask_deadline")),
            choice_field(
                "audience", N_("notices.ask_audience"), audience_choices, search=search_audiences
            ),
            _local_time_field("send_at", N_("notices.ask_send_at")),
        ),
        on_done=save_notice,
        summary=preview,
    )
)


@router.command("notice", help=N_("help.notice"), role=Role.OFFICER)
async def compose(ctx: Context) -> None:
    """``/notice urgent`` (或 ``/notice 紧急``) composes an urgent notice."""
    urgent = ctx.args.strip().lower() in URGENT_WORDS
    await start_form(ctx, compose_form, {"urgent": True} if urgent else None)


@router.button("ncompose", role=Role.OFFICER)
async def compose_button(ctx: Context) -> None:
    """The menu's button: an ordinary notice (an urgent one is ``/notice urgent``)."""
    await start_form(ctx, compose_form)
