"""Collective wage bargaining (工资集体协商): the chair walks a session through the 10 steps,
members join by code or deep link ("scan to take part") and are told of every step, officers
review, reopen and watch all sessions, and everyone reads the history.

Chair: /bargain_new, /next, /offer, /employer, /minutes, /resolution, /bg_members.
The employer's chief representative: /accept_offer (or the button sent with the offer).
Members: /bargain, /join CODE (or the link ``bg_CODE``), /history.
Officers (in :mod:`handlers.bargaining_review`): /bg_all, /bg_review, /bg_reopen, /bg_index.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.context import Context
from bot.dialogs import Form, choice_field, fixed_choices, integer_field, start_form, text_field
from bot.i18n import N_, Translator
from bot.messages import Button, Outgoing, rows
from bot.numbers import read_id
from bot.payloads import Payload
from bot.router import Router
from storage import bargaining as store
from storage.ballots import ballots_of
from storage.bargaining import FINISHED
from storage.meeting import meeting_is_open
from storage.memberships import is_verified
from storage.models import Role
from storage.models.bargaining import Ballot, BargainingSession
from storage.types import utcnow

router = Router("bargaining")
router.menu(N_("menu.bargaining"), "bargain", order=300)


@dataclass(frozen=True)
class JoinLink(Payload, prefix="bg", link=True):
    """``/start bg_CODE`` (or a WeChat QR scene): follow the session with this code."""

    code: str


STEP_NAMES = (
    N_("bargaining.step.start"),
    N_("bargaining.step.election"),
    N_("bargaining.step.offer"),
    N_("bargaining.step.accept"),
    N_("bargaining.step.meeting"),
    N_("bargaining.step.minutes"),
    N_("bargaining.step.congress"),
    N_("bargaining.step.resolution"),
    N_("bargaining.step.review"),
    N_("bargaining.step.posting"),
    N_("bargaining.step.finished"),
)
"""Message ids of steps 1 to 10, and of a finished session (11)."""
KINDS = {"wage": N_("bargaining.kind.wage"), "skill": N_("bargaining.kind.skill")}


def step_name(t: Translator, step: int) -> str:
    return t(STEP_NAMES[step - 1])


def progress(t: Translator, step: int) -> str:
    if step == FINISHED:
        return step_name(t, step)
    return t("bargaining.progress", number=step, step=step_name(t, step))


def describe(t: Translator, bs: BargainingSession) -> str:
    return t(
        "bargaining.status",
        title=bs.title,
        year=bs.year,
        kind=t(KINDS[bs.kind]),
        progress=progress(t, bs.step),
    )


def counted(ballot: Ballot) -> bool:
    """Closed and not voided by a reopening: a result that stands."""
    return ballot.closed_at is not None and ballot.voided_at is None


def notify(ctx: Context, member_ids: Iterable[int], build: Any) -> None:
    """Send one message to several members, each in their own language, skipping the actor."""
    for member_id in dict.fromkeys(member_ids):
        if member_id != ctx.member.id:
            ctx.send(member_id, build)


async def my_session(ctx: Context) -> BargainingSession | None:
    """The running session of the chair's enterprise; tells the chair when there is none."""
    bs = await store.chair_session(ctx.session, (await ctx.roles()).scopes(Role.CHAIR))
    if bs is None:
        ctx.reply(ctx.t("bargaining.no_session"))
    return bs


# Starting a session -----------------------------------------------------------------


async def save_session(ctx: Context, data: dict[str, Any]) -> None:
    scopes = [s for s in map(read_id, (await ctx.roles()).scopes(Role.CHAIR)) if s]
    if not scopes:
        ctx.reply(ctx.t("bargaining.no_enterprise"))
        return
    bs = await store.start_session(
        ctx.session,
        scopes[0],
        ctx.member.id,
        data["kind"],
        data["title"],
        data["year"],
        utcnow(),
    )
    ctx.reply(ctx.t("bargaining.started", code=bs.code, link=JoinLink(bs.code).pack()))
    ctx.reply(describe(ctx.t, bs))


async def summarise(ctx: Context, data: dict[str, Any]) -> str:
    return ctx.t(
        "bargaining.summary",
        kind=ctx.t(KINDS[data["kind"]]),
        title=data["title"],
        year=data["year"],
    )


new_session_form = router.form(
    Form(
        name="bargain_new",
        fields=(
            choice_field("kind", N_("bargaining.ask_kind"), fixed_choices(*KINDS.items())),
            text_field("title", N_("bargaining.ask_title"), min_length=2, max_length=100),
            integer_field("year", N_("bargaining.ask_year"), minimum=2000, maximum=2100),
        ),
        on_done=save_session,
        summary=summarise,
    )
)


@router.command("bargain_new", help=N_("help.bargain_new"), role=Role.CHAIR)
async def new_session(ctx: Context) -> None:
    if not any(map(read_id, (await ctx.roles()).scopes(Role.CHAIR))):
        ctx.reply(ctx.t("bargaining.no_enterprise"))
        return
    await start_form(ctx, new_session_form)


# The status and the steps -------------------------------------------------------------


@router.command("bargain", help=N_("help.bargain"), private=True)
@router.button("bargain", private=True)
async def status(ctx: Context) -> None:
    roles = await ctx.roles()
    chaired = await store.chair_session(ctx.session, roles.scopes(Role.CHAIR))
    if chaired is not None:
        text = describe(ctx.t, chaired) + "\n" + ctx.t("bargaining.code", code=chaired.code)
        missing = await store.missing_for_step(ctx.session, chaired)
        if missing is not None:
            text += "\n" + ctx.t("bargaining.still_needs", need=ctx.t(missing))
        press = NextStep(chaired.id, chaired.step).pack()
        ctx.reply(text, rows([Button(ctx.t("bargaining.button.next"), press)]))
        return
    followed = await store.followed_session(ctx.session, ctx.member.id)
    if followed is None:
        ctx.reply(ctx.t("bargaining.not_following"))
        return
    ctx.reply(describe(ctx.t, followed))


@dataclass(frozen=True)
class NextStep(Payload, prefix="bg:next"):
    """The status's "next step" button, naming the session and step it was shown for."""

    session_id: int
    step: int


@router.command("next", help=N_("help.next"), role=Role.CHAIR)
async def next_step(ctx: Context) -> None:
    bs = await my_session(ctx)
    if bs is None:
        return
    await close_current_step(ctx, bs, officer=False)


@router.button(NextStep, role=Role.CHAIR)
async def next_step_button(ctx: Context, press: NextStep) -> None:
    """Pressed after the session moved on (or was sent back), the button is refused rather
    than closing whatever step is current."""
    bs = await my_session(ctx)
    if bs is None:
        return
    if (press.session_id, press.step) != (bs.id, bs.step):
        ctx.reply(ctx.t("bargaining.stale_step", step=progress(ctx.t, bs.step)))
        return
    await close_current_step(ctx, bs, officer=False)


async def close_current_step(ctx: Context, bs: BargainingSession, *, officer: bool) -> None:
    closed = bs.step
    await store.close_step(ctx.session, bs, ctx.member.id, utcnow(), officer=officer)
    ctx.reply(
        ctx.t("bargaining.closed", step=step_name(ctx.t, closed)) + "\n" + describe(ctx.t, bs)
    )
    followers = await store.follower_ids(ctx.session, bs.id)
    chairs = await store.chair_ids(ctx.session, bs.enterprise_id)
    if bs.step == FINISHED:
        posting = await _result_text_builder(ctx, bs)
        everyone = [m.id for m in await store.enterprise_members(ctx.session, bs.enterprise_id)]
        notify(ctx, [*chairs, *followers, *everyone], posting)
        return
    if bs.step == 4:
        send_offer(ctx, bs)
    title, step = bs.title, bs.step
    notify(
        ctx,
        [*chairs, *followers],
        lambda t: Outgoing(
            t("bargaining.step_changed", title=title, number=step, step=step_name(t, step))
        ),
    )


async def _result_text_builder(ctx: Context, bs: BargainingSession) -> Any:
    from handlers.ballots import result_lines

    ballots = [b for b in await ballots_of(ctx.session, bs.id) if counted(b)]
    title, year, resolution = bs.title, bs.year, bs.resolution_text or ""

    def build(t: Translator) -> Outgoing:
        lines = [t("bargaining.posting", title=title, year=year, resolution=resolution)]
        lines += [line for ballot in ballots for line in result_lines(t, ballot, receipts=False)]
        return Outgoing("\n".join(lines))

    return build


async def _set_text(ctx: Context, field: str, usage: str, saved: str) -> None:
    bs = await my_session(ctx)
    if bs is None:
        return
    if not ctx.args:
        ctx.reply(ctx.t(usage))
        return
    store.set_text(bs, field, ctx.args[:4000])
    ctx.reply(ctx.t(saved))


@router.command("offer", help=N_("help.offer"), role=Role.CHAIR)
async def offer(ctx: Context) -> None:
    await _set_text(ctx, "offer_text", N_("bargaining.usage.offer"), N_("bargaining.saved.offer"))


@router.command("minutes", help=N_("help.minutes"), role=Role.CHAIR)
async def minutes(ctx: Context) -> None:
    await _set_text(
        ctx, "minutes_text", N_("bargaining.usage.minutes"), N_("bargaining.saved.minutes")
    )


@router.command("resolution", help=N_("help.resolution"), role=Role.CHAIR)
async def resolution(ctx: Context) -> None:
    await _set_text(
        ctx, "resolution_text", N_("bargaining.usage.resolution"), N_("bargaining.saved.resolution")
    )


@router.command("bg_members", help=N_("help.bg_members"), role=Role.CHAIR, private=True)
async def list_members(ctx: Context) -> None:
    bs = await my_session(ctx)
    if bs is None:
        return
    people = await store.enterprise_members(ctx.session, bs.enterprise_id)
    ctx.reply(
        ctx.t("bargaining.members") + "\n" + "\n".join(f"{m.id}. {m.display_name}" for m in people)
    )


@router.command("employer", help=N_("help.employer"), role=Role.CHAIR)
async def employer(ctx: Context) -> None:
    bs = await my_session(ctx)
    if bs is None:
        return
    member_id = read_id(ctx.args)
    if member_id is None:
        ctx.reply(ctx.t("bargaining.usage.employer"))
        return
    member = await store.set_employer(ctx.session, bs, member_id)
    ctx.reply(ctx.t("bargaining.employer_set", name=member.display_name))
    if bs.step == 4:
        send_offer(ctx, bs)
        return
    title = bs.title
    ctx.send(member.id, lambda t: Outgoing(t("bargaining.you_are_employer", title=title)))


def send_offer(ctx: Context, bs: BargainingSession) -> None:
    """Step 4 opens with the offer in the employer's hands, with a button to accept it."""
    if bs.employer_member_id is None:
        return
    title, offer, session_id = bs.title, bs.offer_text or "", bs.id
    ctx.send(
        bs.employer_member_id,
        lambda t: Outgoing(
            t("bargaining.offer_for_employer", title=title, offer=offer),
            rows([Button(t("bargaining.button.accept"), AcceptOffer(session_id).pack())]),
        ),
    )


@dataclass(frozen=True)
class AcceptOffer(Payload, prefix="bgok"):
    session_id: int


@router.command("accept_offer", help=N_("help.accept_offer"))
async def accept_offer_command(ctx: Context) -> None:
    """``/accept_offer [SESSION]``: without a number, the session this member is employer of."""
    session_id = read_id(ctx.args)
    if session_id is not None:
        await accept_offer(ctx, AcceptOffer(session_id))
        return
    await _accept(ctx, await store.employer_session(ctx.session, ctx.member.id))


@router.button(AcceptOffer)
async def accept_offer(ctx: Context, press: AcceptOffer) -> None:
    await _accept(ctx, await ctx.session.get(BargainingSession, press.session_id))


async def _accept(ctx: Context, bs: BargainingSession | None) -> None:
    if bs is None:
        ctx.reply(ctx.t("bargaining.not_the_employer"))
        return
    store.accept_offer(bs, ctx.member.id, utcnow())
    ctx.reply(ctx.t("bargaining.accepted"))
    title, name = bs.title, ctx.member.display_name
    notify(
        ctx,
        [
            *await store.chair_ids(ctx.session, bs.enterprise_id),
            *await store.follower_ids(ctx.session, bs.id),
        ],
        lambda t: Outgoing(t("bargaining.offer_accepted_notice", title=title, name=name)),
    )


# Joining ------------------------------------------------------------------------------


@router.command("join", help=N_("help.join"), private=True)
async def join_by_code(ctx: Context) -> None:
    if not ctx.args:
        ctx.reply(ctx.t("bargaining.usage.join"))
        return
    await _join(ctx, ctx.args)


@router.start(JoinLink, private=True)
async def join_by_link(ctx: Context, press: JoinLink) -> None:
    await _join(ctx, press.code)


async def _join(ctx: Context, code: str) -> None:
    from handlers.meeting import TranscriptPage  # the meeting module builds on this one

    bs = await store.session_by_code(ctx.session, code)
    if bs is None:
        ctx.reply(ctx.t("bargaining.bad_code"))
        return
    new = await store.follow(ctx.session, bs, ctx.member, utcnow())
    text = ctx.t("bargaining.joined" if new else "bargaining.already_following")
    buttons: list[Button] = []
    if meeting_is_open(bs):
        text += "\n" + ctx.t("meeting.in_progress")
        buttons.append(Button(ctx.t("meeting.button.transcript"), TranscriptPage(bs.id, 1).pack()))
    ctx.reply(text + "\n" + describe(ctx.t, bs), rows(buttons))


# History and the officers' view -------------------------------------------------------


@router.command("history", help=N_("help.history"), private=True)
async def history(ctx: Context) -> None:
    if ctx.member.enterprise_id is None or not is_verified(ctx.member, ctx.member.enterprise_id):
        ctx.reply(ctx.t("bargaining.no_history"))
        return
    from handlers.ballots import result_lines

    past = await store.finished_sessions(ctx.session, ctx.member.enterprise_id)
    if not past:
        ctx.reply(ctx.t("bargaining.no_history"))
        return
    for bs in past:
        lines = [
            ctx.t(
                "bargaining.history_item",
                title=bs.title,
                year=bs.year,
                kind=ctx.t(KINDS[bs.kind]),
                resolution=bs.resolution_text or "",
            )
        ]
        closed: list[Ballot] = [b for b in await ballots_of(ctx.session, bs.id) if counted(b)]
        lines += [line for b in closed for line in result_lines(ctx.t, b, receipts=False)]
        ctx.reply("\n".join(lines))
