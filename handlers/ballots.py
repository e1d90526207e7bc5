"""Voting by phone: the representative election (step 2) and the workers' congress (step 7).

Chair: ``/election SEATS HOURS ID ID...`` (candidates by the numbers /bg_members shows),
``/congress HOURS``, ``/close_ballot`` once the closing time has passed. Voters: ``/vote``,
a pressed button, or ``/vote BALLOT 1 3`` to choose several candidates. Every voter sees
their choice once, in the private chat where they cast it, with a receipt code; the tally
published at closing gives the totals and the counted receipts, never a receipt's choice,
and ``/receipt CODE`` tells the voter alone whether their paper was counted.

Opening a ballot schedules two jobs in the reminder job store (:mod:`bot.reminders`):

- ``ballot_close`` at the closing time, whose fan-out *closes* the ballot and returns the
  tally for the chair, the followers and every eligible voter. Closing is a reminder kind
  rather than a separate "action" API: the close and the tally's outbox rows are written in
  one transaction, so a crash cannot close a ballot without publishing it, and a job that
  runs twice publishes nothing the second time (the ballot is already closed, and the
  batch key ``ballot_close:N:due`` is already written). The tally is not a reminder: it
  reaches members who switched reminders off, held only for quiet hours.
- ``ballot_closing`` two hours before, reminding eligible members who have not voted
  (the voter register says who voted, never how) and who keep reminders on.

:func:`close_and_publish` and :func:`close_due_ballots` (``unionbot close-ballots``) still
close a ballot by hand or sweep up ballots whose job was lost; the job then finds the
ballot closed and sends nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.context import Context, MessageBuilder
from bot.delivery import MessageClass, Outbox
from bot.i18n import N_, Translator
from bot.messages import Button, Notification, Outgoing, rows
from bot.numbers import read_id, read_number, read_numbers
from bot.payloads import Payload
from bot.router import Router
from handlers.ballot_page import ResultsOnTheWeb
from handlers.bargaining import my_session, notify
from storage import ballots as store
from storage.bargaining import chair_ids, follower_ids
from storage.models import Role
from storage.models.bargaining import Ballot, BargainingSession
from storage.refusals import Refused
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

router = Router("ballots")
router.menu(N_("menu.vote"), "vote", order=310)

MAX_HOURS = 24 * 30
CLOSE_KIND = "ballot_close"
CLOSING_KIND = "ballot_closing"
REMIND_BEFORE = timedelta(hours=2)
CHOICE_NAMES = {
    "for": N_("ballots.choice.for"),
    "against": N_("ballots.choice.against"),
    "abstain": N_("ballots.choice.abstain"),
}


RECEIPTS_PER_LINE = 6


def result_lines(t: Translator, ballot: Ballot, *, receipts: bool) -> list[str]:
    """The published tally of a closed ballot; with ``receipts``, the counted receipts in
    sorted order. Never which choice a receipt made: a receipt shown to an employer (or
    anyone) must not tell how its holder voted."""
    result: dict[str, Any] = ballot.result or {}
    voted, eligible = result.get("voted", 0), ballot.eligible
    if ballot.kind == "congress":
        counts = result["counts"]
        verdict = t("ballots.passed" if ballot.passed else "ballots.failed")
        lines = [
            t(
                "ballots.congress_result",
                verdict=verdict,
                yes=counts["for"],
                no=counts["against"],
                abstain=counts["abstain"],
                voted=voted,
                eligible=eligible,
            )
        ]
    else:
        tally = t.join(t("ballots.votes", name=name, count=n) for name, n in result["counts"])
        winners = t.join(result["winners"]) or "-"
        lines = [
            t(
                "ballots.election_result",
                voted=voted,
                eligible=eligible,
                tally=tally,
                winners=winners,
            )
        ]
    counted: list[str] = result.get("receipts", [])
    if receipts and counted:
        lines.append(t("ballots.receipts"))
        lines += [
            " ".join(counted[i : i + RECEIPTS_PER_LINE])
            for i in range(0, len(counted), RECEIPTS_PER_LINE)
        ]
    return lines


def choice_text(t: Translator, paper: dict[str, Any], names: list[str]) -> str:
    """What a paper chose, for its voter's eyes only, once, at casting."""
    if "v" in paper:
        return t(CHOICE_NAMES[paper["v"]])
    return "、".join(names[p - 1] for p in paper["c"])


def ballot_invitation(
    t: Translator, ballot_id: int, kind: str, seats: int, closes: str, names: list[str]
) -> Outgoing:
    if kind == "congress":
        buttons = [
            Button(t(label), VotePress(ballot_id, value).pack())
            for value, label in CHOICE_NAMES.items()
        ]
        return Outgoing(t("ballots.congress_invitation", closes=closes), rows(buttons))
    listing = "\n".join(f"{n}. {name}" for n, name in enumerate(names, 1))
    buttons = [Button(name, VotePress(ballot_id, str(n)).pack()) for n, name in enumerate(names, 1)]
    return Outgoing(
        t(
            "ballots.election_invitation",
            seats=seats,
            closes=closes,
            candidates=listing,
            ballot=ballot_id,
        ),
        tuple((b,) for b in buttons),
    )


def _local(ctx: Context, when: datetime) -> str:
    return when.astimezone(ctx.settings.zone).strftime("%Y-%m-%d %H:%M")


async def _invite(ctx: Context, ballot: Ballot) -> None:
    names = [c.name for c in await store.candidates(ctx.session, ballot.id)]
    closes = _local(ctx, ballot.closes_at)
    ballot_id, kind, seats = ballot.id, ballot.kind, ballot.max_choices
    voters = await store.eligible_voters(ctx.session, ballot)
    notify(ctx, voters, lambda t: ballot_invitation(t, ballot_id, kind, seats, closes, names))
    ctx.reply(ctx.t("ballots.opened", count=len(voters), closes=closes))
    if ctx.member.id in voters:
        ctx.answer(ballot_invitation(ctx.t, ballot_id, kind, seats, closes, names))
    ctx.schedule(CLOSE_KIND, ballot_id, ballot.closes_at)
    if ballot.closes_at - REMIND_BEFORE > utcnow():
        ctx.schedule(CLOSING_KIND, ballot_id, ballot.closes_at - REMIND_BEFORE)


def _hours(text: str) -> int | None:
    return read_number(text, maximum=MAX_HOURS) or None


@router.command("election", help=N_("help.election"), role=Role.CHAIR)
async def election(ctx: Context) -> None:
    numbers = read_numbers(ctx.args)
    if numbers is None or len(numbers) < 3 or not 1 <= numbers[1] <= MAX_HOURS:
        ctx.reply(ctx.t("ballots.usage.election", maximum=MAX_HOURS))
        return
    bs = await my_session(ctx)
    if bs is None:
        return
    now = utcnow()
    closes_at = now + timedelta(hours=numbers[1])
    ballot = await store.open_election(
        ctx.session, bs, numbers[0], closes_at, numbers[2:], now, ctx.settings.key_dir
    )
    await _invite(ctx, ballot)


@router.command("congress", help=N_("help.congress"), role=Role.CHAIR)
async def congress(ctx: Context) -> None:
    hours = _hours(ctx.args)
    if hours is None:
        ctx.reply(ctx.t("ballots.usage.congress", maximum=MAX_HOURS))
        return
    bs = await my_session(ctx)
    if bs is None:
        return
    now = utcnow()
    ballot = await store.open_congress(
        ctx.session,
        bs,
        now + timedelta(hours=hours),
        ctx.settings.congress_quorum,
        ctx.settings.congress_majority,
        now,
        ctx.settings.key_dir,
    )
    await _invite(ctx, ballot)


@router.command("vote", help=N_("help.vote"), private=True)
async def vote(ctx: Context) -> None:
    words = ctx.args.split()
    if words:
        await _cast(ctx, words[0], words[1:])
        return
    await open_ballots(ctx)


@router.button("vote", private=True)
async def open_ballots(ctx: Context) -> None:
    """The menu's button lists the open ballots; votes are cast by :class:`VotePress`."""
    ballots = await store.open_ballots_for(ctx.session, ctx.member.id, utcnow())
    if not ballots:
        ctx.reply(ctx.t("ballots.nothing_open"))
        return
    for ballot in ballots:
        names = [c.name for c in await store.candidates(ctx.session, ballot.id)]
        closes = _local(ctx, ballot.closes_at)
        ctx.answer(
            ballot_invitation(ctx.t, ballot.id, ballot.kind, ballot.max_choices, closes, names)
        )


@dataclass(frozen=True)
class VotePress(Payload, prefix="v"):
    ballot_id: int
    choice: str
    """A candidate's position, or the congress answer (``yes``, ``no``, ``abstain``)."""


@router.button(VotePress, private=True)
async def vote_button(ctx: Context, press: VotePress) -> None:
    await _cast(ctx, str(press.ballot_id), [press.choice])


async def _cast(ctx: Context, number: str, choices: list[str]) -> None:
    ballot_id = read_id(number)
    ballot = await ctx.session.get(Ballot, ballot_id) if ballot_id else None
    if ballot is None:
        ctx.reply(ctx.t("ballots.no_such_ballot"))
        return
    receipt, paper = await store.cast_vote(ctx.session, ballot, ctx.member.id, choices, utcnow())
    names = [c.name for c in await store.candidates(ctx.session, ballot.id)]
    closes = _local(ctx, ballot.closes_at)
    choice = choice_text(ctx.t, paper, names)
    ctx.answer(
        Outgoing(
            ctx.t("ballots.voted", choice=choice, receipt=receipt, closes=closes),
            kept_as=ctx.t("ballots.voted_kept", receipt=receipt, closes=closes),
        )
    )


@router.command("receipt", help=N_("help.receipt"), private=True)
async def receipt(ctx: Context) -> None:
    """Was my paper counted? Answered to the voter alone, and only for ballots they were
    on the roll of; it says nothing of the choice."""
    code = "".join(ctx.args.split()).upper()
    if len(code) != store.RECEIPT_LENGTH or not set(code) <= set(store.RECEIPT_ALPHABET):
        ctx.reply(ctx.t("ballots.usage.receipt"))
        return
    ballot = await store.counted_in(ctx.session, ctx.member.id, code)
    if ballot is not None:
        bs = await ctx.session.get(BargainingSession, ballot.session_id)
        title = bs.title if bs is not None else ""
        ctx.reply(ctx.t("ballots.receipt_counted", receipt=code, ballot=ballot.id, title=title))
    elif await store.voted_in_open(ctx.session, ctx.member.id):
        ctx.reply(ctx.t("ballots.receipt_not_yet", receipt=code))
    else:
        ctx.reply(ctx.t("ballots.receipt_unknown", receipt=code))


@router.command("close_ballot", help=N_("help.close_ballot"), role=Role.CHAIR)
async def close_ballot(ctx: Context) -> None:
    bs = await my_session(ctx)
    if bs is None:
        return
    ballots = [
        b
        for b in await store.ballots_of(ctx.session, bs.id)
        if b.closed_at is None and b.voided_at is None
    ]
    if ctx.args:
        ballots = [b for b in ballots if b.id == read_id(ctx.args)]
    if not ballots:
        ctx.reply(ctx.t("ballots.none_to_close"))
        return
    now = utcnow()
    for ballot in ballots:
        if now < ballot.closes_at:
            ctx.reply(ctx.t("ballots.not_due", closes=_local(ctx, ballot.closes_at)))
            continue
        await store.close_ballot(ctx.session, ballot, now, ctx.settings.key_dir)
        for member_id, build in await publication(ctx.session, bs, ballot):
            if member_id == ctx.member.id:
                ctx.answer(build(ctx.t))
            else:
                ctx.send(member_id, build)


async def publication(
    session: AsyncSession, bs: BargainingSession, ballot: Ballot
) -> list[tuple[int, MessageBuilder]]:
    """The tally of a closed ballot for the chair, the followers and everyone who could vote."""
    audience = [*await chair_ids(session, bs.enterprise_id)]
    audience += await follower_ids(session, bs.id)
    audience += await store.eligible_voters(session, ballot)
    title, ballot_id = bs.title, ballot.id

    def build(t: Translator) -> Outgoing:
        header = t("ballots.closed_notice", title=title)
        return Outgoing(
            "\n".join([header, *result_lines(t, ballot, receipts=True)]),
            rows([Button(t("ballots.button.web"), ResultsOnTheWeb(ballot_id).pack())]),
            kind=Notification.BALLOT_CLOSING,
        )

    return [(member_id, build) for member_id in dict.fromkeys(audience)]


async def close_and_publish(
    sessions: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    ballot_id: int,
    key_dir: Path,
    now: datetime | None = None,
) -> bool:
    """Close one ballot and push its tally; for the job scheduled at its closing time.

    Returns False (and does nothing) when the ballot is gone, already closed, or not due.
    """
    async with sessions() as session, session.begin():
        ballot = await session.get(Ballot, ballot_id)
        if ballot is None:
            return False
        try:
            await store.close_ballot(session, ballot, now or utcnow(), key_dir)
        except Refused as refused:
            log.info("ballot %s not closed: %s", ballot_id, refused.msgid)
            return False
        bs = await session.get(BargainingSession, ballot.session_id)
        assert bs is not None
        await outbox.write(
            session, await publication(session, bs, ballot), MessageClass.INTERACTIVE, utcnow()
        )
    outbox.wake()
    return True


async def close_due_ballots(
    sessions: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    key_dir: Path,
    now: datetime | None = None,
) -> int:
    """Close and publish every ballot whose closing time has passed; returns how many."""
    now = now or utcnow()
    async with sessions() as session:
        due = [b.id for b in await store.ballots_to_close(session, now)]
    closed = 0
    for ballot_id in due:
        closed += await close_and_publish(sessions, outbox, ballot_id, key_dir, now)
    return closed


async def closing_fan_out(
    app: App, session: AsyncSession, ballot_id: int
) -> list[tuple[int, MessageBuilder]]:
    """The job at the closing time: close the ballot; its tally is what goes out."""
    ballot = await session.get(Ballot, ballot_id)
    if ballot is None:
        return []
    try:
        await store.close_ballot(session, ballot, utcnow(), app.settings.key_dir)
    except Refused as refused:
        log.info("ballot %s not closed by its job: %s", ballot_id, refused.msgid)
        return []
    bs = await session.get(BargainingSession, ballot.session_id)
    assert bs is not None
    return await publication(session, bs, ballot)


async def not_voted_fan_out(
    app: App, session: AsyncSession, ballot_id: int
) -> list[tuple[int, MessageBuilder]]:
    """Two hours before closing: eligible members who have not voted, reminders on."""
    ballot = await session.get(Ballot, ballot_id)
    if ballot is None or ballot.closed_at is not None or ballot.voided_at is not None:
        return []
    bs = await session.get(BargainingSession, ballot.session_id)
    assert bs is not None
    names = [c.name for c in await store.candidates(session, ballot.id)]
    closes = ballot.closes_at.astimezone(app.settings.zone).strftime("%Y-%m-%d %H:%M")
    kind, seats, title = ballot.kind, ballot.max_choices, bs.title

    def build(t: Translator) -> Outgoing:
        invitation = ballot_invitation(t, ballot_id, kind, seats, closes, names)
        header = t("ballots.closing_soon", title=title, closes=closes)
        return Outgoing(
            f"{header}\n\n{invitation.text}",
            invitation.buttons,
            kind=Notification.BALLOT_CLOSING,
        )

    return [(member_id, build) for member_id in await store.reminder_recipients(session, ballot)]


router.reminder(CLOSE_KIND)(closing_fan_out)
router.reminder(CLOSING_KIND)(not_voted_fan_out)
