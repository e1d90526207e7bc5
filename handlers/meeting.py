"""The bargaining meeting (step 5), watched live (围观).

While the chair keeps the meeting open, whatever its speakers (the chair, the elected
representatives, the employer's chief representative) write to the bot is a statement: it
is numbered and relayed at once to every follower, labelled with side and role. Relays are
live outbox rows (:meth:`bot.delivery.Outbox.write_live`): one waiting row per follower,
rendered when sent, so a follower who is behind (Telegram allows one message a second per
chat) gets the statements since as one message, and a statement costs the speaker the same
with 500 followers as with one. Followers
only watch; what they write then goes to the suggestion box. A late follower reads the
transcript so far, a page at a time.

The chair may say when the meeting starts (``/meeting_at 2027-03-02 14:00``, local time);
an hour before, a ``bargaining_meeting`` reminder (:mod:`bot.reminders`) goes to everyone
who sees the meeting and keeps reminders on. Setting another time replaces the reminder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot import delivery, web_links
from bot.context import Context, MessageBuilder
from bot.i18n import N_, Translator
from bot.messages import Button, Notification, Outgoing, rows
from bot.numbers import read_number
from bot.payloads import Payload
from bot.router import FreeText, Router
from handlers.bargaining import my_session, notify
from storage import bargaining as store
from storage import meeting, member_settings
from storage.models import Role
from storage.models.bargaining import BargainingSession, MeetingStatement
from storage.suggestions import suggest
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.app import App

router = Router("meeting")

MEETING_KIND = "bargaining_meeting"
RELAY_KIND = "meeting"
REMIND_BEFORE = timedelta(hours=1)
TIME_FORMAT = "%Y-%m-%d %H:%M"
WECHAT_RELAYS = 3
"""Statements pushed to a WeChat-only watcher between two of their messages; the next
push is the live page's button (WeChat allows five until the user writes again)."""


@dataclass(frozen=True)
class TranscriptPage(Payload, prefix="tr"):
    session_id: int
    page: int


@dataclass(frozen=True)
class WatchOnTheWeb(Payload, prefix="wm"):
    session_id: int


SIDES = {"union": N_("meeting.side.union"), "employer": N_("meeting.side.employer")}
SPEAKER_ROLES = {
    "chair": N_("meeting.role.chair"),
    "representative": N_("meeting.role.representative"),
    "employer_chief": N_("meeting.role.employer_chief"),
}


def statement_text(t: Translator, statement: MeetingStatement) -> str:
    return t(
        "meeting.statement",
        seq=statement.seq,
        side=t(SIDES[statement.side]),
        role=t(SPEAKER_ROLES[statement.role]),
        name=statement.speaker_name,
        text=statement.text,
    )


def relay(statement: MeetingStatement) -> MessageBuilder:
    return lambda t: Outgoing(statement_text(t, statement))


async def relayed(
    session: AsyncSession, t: Translator, session_id: int, since: int
) -> Outgoing | None:
    """A watcher's relay: every statement since the one that started it, as one message."""
    statements = await meeting.statements_since(session, session_id, since)
    if not statements:
        return None
    return Outgoing("\n".join(statement_text(t, s) for s in statements))


delivery.register_live(RELAY_KIND, relayed)


async def audience_of(session: AsyncSession, bs: BargainingSession) -> list[int]:
    """Followers, the chair, the representatives and the employer: all who see the meeting."""
    audience = [*await store.chair_ids(session, bs.enterprise_id)]
    audience += await store.representative_ids(session, bs.id)
    if bs.employer_member_id is not None:
        audience.append(bs.employer_member_id)
    return list(dict.fromkeys(audience + await store.follower_ids(session, bs.id)))


async def _audience(ctx: Context, bs: BargainingSession) -> list[int]:
    return await audience_of(ctx.session, bs)


def _local(zone: tzinfo, when: datetime) -> str:
    return when.astimezone(zone).strftime(TIME_FORMAT)


@router.command("meeting_at", help=N_("help.meeting_at"), role=Role.CHAIR)
async def meeting_at(ctx: Context) -> None:
    try:
        when = datetime.strptime(ctx.args.strip(), TIME_FORMAT).replace(tzinfo=ctx.settings.zone)
    except ValueError:
        ctx.reply(ctx.t("meeting.usage.meeting_at"))
        return
    bs = await my_session(ctx)
    if bs is None:
        return
    now = utcnow()
    meeting.set_meeting_time(bs, when, now)
    shown, title = _local(ctx.settings.zone, when), bs.title
    ctx.cancel_reminders(MEETING_KIND, bs.id)
    if when - REMIND_BEFORE > now:
        ctx.schedule(MEETING_KIND, bs.id, when - REMIND_BEFORE)
    ctx.reply(ctx.t("meeting.time_set", when=shown))
    notify(
        ctx,
        await _audience(ctx, bs),
        lambda t: Outgoing(t("meeting.time_announced", title=title, when=shown)),
    )


async def starting_fan_out(
    app: App, session: AsyncSession, session_id: int
) -> list[tuple[int, MessageBuilder]]:
    """An hour before the meeting: all who see it, unless it was held or they opted out."""
    bs = await session.get(BargainingSession, session_id)
    if bs is None or bs.meeting_at is None or bs.meeting_opened_at is not None or bs.step != 5:
        return []
    shown, title = _local(app.settings.zone, bs.meeting_at), bs.title

    def build(t: Translator) -> Outgoing:
        return Outgoing(
            t("meeting.starting", title=title, when=shown),
            rows([Button(t("meeting.button.transcript"), TranscriptPage(session_id, 1).pack())]),
            kind=Notification.MEETING_STARTING,
        )

    audience = await member_settings.with_reminders_on(session, await audience_of(session, bs))
    return [(member_id, build) for member_id in audience]


router.reminder(MEETING_KIND)(starting_fan_out)


@router.command("meeting_open", help=N_("help.meeting_open"), role=Role.CHAIR)
async def open_meeting(ctx: Context) -> None:
    bs = await my_session(ctx)
    if bs is None:
        return
    meeting.open_meeting(bs, utcnow())
    ctx.reply(ctx.t("meeting.opened_for_chair"))
    title, session_id = bs.title, bs.id
    notify(
        ctx,
        await _audience(ctx, bs),
        lambda t: Outgoing(
            t("meeting.opened", title=title),
            rows(
                [Button(t("meeting.button.transcript"), TranscriptPage(session_id, 1).pack())],
                [Button(t("meeting.button.web"), WatchOnTheWeb(session_id).pack())],
            ),
            kind=Notification.MEETING_STARTING,
        ),
    )


@router.command("meeting_close", help=N_("help.meeting_close"), role=Role.CHAIR)
async def close_meeting(ctx: Context) -> None:
    bs = await my_session(ctx)
    if bs is None:
        return
    meeting.close_meeting(bs, utcnow())
    ctx.reply(ctx.t("meeting.closed_for_chair"))
    title = bs.title
    notify(ctx, await _audience(ctx, bs), lambda t: Outgoing(t("meeting.closed", title=title)))


async def _speaker_role(ctx: Context, bs: BargainingSession) -> tuple[str, str] | None:
    if str(bs.enterprise_id) in (await ctx.roles()).scopes(Role.CHAIR):
        return "union", "chair"
    if bs.employer_member_id == ctx.member.id:
        return "employer", "employer_chief"
    if ctx.member.id in await store.representative_ids(ctx.session, bs.id):
        return "union", "representative"
    return None


async def _relay(ctx: Context, bs: BargainingSession, statement: MeetingStatement) -> None:
    """Push a statement to all who watch, except WeChat watchers near their quota.

    Watchers with an account off WeChat get a live row (:meth:`Context.relay`): one waiting
    message each, whatever the audience's size, holding every statement since. WeChat takes
    only a few customer-service messages to a user until they write again, so a watcher
    reached only on WeChat gets :data:`WECHAT_RELAYS` statements, then one message pointing
    to the live page instead of the next, then nothing more until they write (the count
    starts again from their last message).
    """
    audience = meeting.audience_query(bs, ctx.member.id)
    await ctx.relay(RELAY_KIND, bs.id, statement.seq, meeting.off_wechat(audience))
    behind = await meeting.wechat_relays_since_seen(ctx.session, audience, bs.id)
    title, session_id = bs.title, bs.id
    notify(ctx, [m for m, n in behind.items() if n <= WECHAT_RELAYS], relay(statement))
    notify(
        ctx,
        [m for m, n in behind.items() if n == WECHAT_RELAYS + 1],
        lambda t: Outgoing(
            t("meeting.go_to_web", title=title),
            rows([Button(t("meeting.button.web"), WatchOnTheWeb(session_id).pack())]),
        ),
    )


@router.text(FreeText.LIVE)
async def speak_or_suggest(ctx: Context) -> bool:
    """Free text during an open meeting: a statement from a speaker, a suggestion from a
    follower. Returns False when no open meeting concerns this member."""
    text = (ctx.message.text or "").strip()
    if not text:
        return False
    meetings = await meeting.open_meetings(ctx.session)
    for bs in meetings:
        speaker = await _speaker_role(ctx, bs)
        if speaker is not None:
            statement = await meeting.add_statement(
                ctx.session, bs, ctx.member, speaker[0], speaker[1], text, utcnow()
            )
            ctx.reply(ctx.t("meeting.said", seq=statement.seq))
            await _relay(ctx, bs, statement)
            return True
    for bs in meetings:
        if ctx.member.id in await store.follower_ids(ctx.session, bs.id):
            await suggest(ctx.session, bs.id, ctx.member.id, text, True, utcnow())
            ctx.reply(ctx.t("meeting.watch_only"))
            return True
    return False


@router.command("transcript", help=N_("help.transcript"), private=True)
async def transcript(ctx: Context) -> None:
    bs = await store.followed_session(ctx.session, ctx.member.id)
    if bs is None:
        bs = await store.chair_session(ctx.session, (await ctx.roles()).scopes(Role.CHAIR))
    if bs is None or not await meeting.may_watch(ctx.session, ctx.member, bs):
        ctx.reply(ctx.t("bargaining.not_following"))
        return
    await _show_page(ctx, bs, read_number(ctx.args) or 1)


@router.button(TranscriptPage, private=True)
async def transcript_page(ctx: Context, press: TranscriptPage) -> None:
    bs = await ctx.session.get(BargainingSession, press.session_id)
    if bs is None or not await meeting.may_watch(ctx.session, ctx.member, bs):
        ctx.reply(ctx.t("bargaining.not_following"))
        return
    await _show_page(ctx, bs, press.page)


async def _show_page(ctx: Context, bs: BargainingSession, page: int) -> None:
    statements, pages = await meeting.transcript_page(ctx.session, bs.id, page)
    page = min(max(page, 1), pages)
    if not statements:
        ctx.reply(ctx.t("meeting.no_statements"))
        return
    text = ctx.t("meeting.transcript", title=bs.title, page=page, pages=pages)
    text += "\n" + "\n".join(statement_text(ctx.t, s) for s in statements)
    buttons = []
    if page > 1:
        buttons.append(
            Button(ctx.t("meeting.button.previous"), TranscriptPage(bs.id, page - 1).pack())
        )
    if page < pages:
        buttons.append(Button(ctx.t("meeting.button.more"), TranscriptPage(bs.id, page + 1).pack()))
    ctx.reply(
        text,
        rows(buttons, [Button(ctx.t("meeting.button.web"), WatchOnTheWeb(bs.id).pack())]),
        replaces_menu=ctx.message.payload is not None,
    )


@router.button(WatchOnTheWeb, private=True)
async def watch_on_the_web(ctx: Context, press: WatchOnTheWeb) -> None:
    """A personal link to the live page, made when pressed so that it is fresh and names
    only the member who pressed (a pushed message may sit unread for hours)."""
    bs = await ctx.session.get(BargainingSession, press.session_id)
    if bs is None or not await meeting.may_watch(ctx.session, ctx.member, bs):
        ctx.reply(ctx.t("bargaining.not_following"))
        return
    web_links.offer_page(
        ctx, f"meeting/{bs.id}", N_("meeting.web_link"), N_("meeting.button.open_web")
    )
