"""Matchmakers' work and members' answers to introductions.

Matchmakers see anonymised cards (no name, no contact, the employer only when the member
allowed it), ranked suggestions with their reasons (scoring: :mod:`storage.matchmaking`),
propose introductions and record outcomes of their own; every card they see is logged.
Members accept or decline; only when both accept does each learn the other's name and
contact. An introduction that does not go ahead is told to both and the matchmaker in the
same words and only when its answering time is over (the ``intro_end`` job), declined or
not: nobody learns who said no, not even from when they hear. Officers see card numbers,
never nicknames, in reports, the gift list and the view log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import Context, MessageBuilder
from bot.i18n import N_, Translator
from bot.messages import Button, Notification, Outgoing, rows
from bot.numbers import read_id, read_number, read_numbers
from bot.payloads import Payload
from bot.router import Router
from handlers.profiles import describe, hobby_names, profile_values
from storage import matchmaking, members
from storage.models import Role
from storage.models.singles import Introduction, IntroStatus, Outcome, Profile
from storage.profiles import get_profile
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.app import App

router = Router("matchmaking")
END_KIND = "intro_end"


@dataclass(frozen=True)
class CandidatesPage(Payload, prefix="mm:list"):
    page: int


@dataclass(frozen=True)
class SuggestFor(Payload, prefix="mm:s"):
    profile_id: int


@dataclass(frozen=True)
class Propose(Payload, prefix="mm:p"):
    one_id: int
    other_id: int


@dataclass(frozen=True)
class IntroPress(Payload, prefix="intro"):
    action: Literal["y", "n", "b", "r"]
    """Accept, decline, block, report."""
    intro_id: int


router.menu(N_("menu.candidates"), CandidatesPage(1).pack(), role=Role.MATCHMAKER, order=320)

PAGE_SIZE = 5
LOG_LINES = 50
REASONS = {
    "match.reason.ages_both": "match.reason.ages_both",
    "match.reason.ages_one": "match.reason.ages_one",
    "match.reason.towns_both": "match.reason.towns_both",
    "match.reason.towns_one": "match.reason.towns_one",
    "match.reason.hobbies": "match.reason.hobbies",
    "match.reason.education": "match.reason.education",
}
OUTCOME_NAMES = {
    Outcome.TALKING: "match.outcome.talking",
    Outcome.DATING: "match.outcome.dating",
    Outcome.ENGAGED: "match.outcome.engaged",
    Outcome.MARRIED: "match.outcome.married",
    Outcome.ENDED: "match.outcome.ended",
}


def card(t: Translator, profile: Profile) -> str:
    """An anonymised card: a number instead of a name, no contact."""
    return (
        t("match.card", number=profile.id)
        + "\n"
        + describe(t, profile_values(profile), private=False)
    )


@router.command("candidates", help=N_("help.candidates"), role=Role.MATCHMAKER, private=True)
async def candidates_command(ctx: Context) -> None:
    """``/candidates [PAGE]``."""
    await list_candidates(ctx, CandidatesPage(read_number(ctx.args) or 1))


@router.button(CandidatesPage, role=Role.MATCHMAKER, private=True)
async def list_candidates(ctx: Context, press: CandidatesPage) -> None:
    page = max(press.page, 1)
    found, total = await matchmaking.candidates(
        ctx.session, ctx.member.id, (page - 1) * PAGE_SIZE, PAGE_SIZE
    )
    if not found:
        ctx.reply(ctx.t("match.no_candidates"))
        return
    for profile in found:
        ctx.reply(
            card(ctx.t, profile),
            rows([Button(ctx.t("match.button.suggest"), SuggestFor(profile.id).pack())]),
        )
    if page * PAGE_SIZE < total:
        ctx.reply(
            ctx.t("match.more", shown=page * PAGE_SIZE, total=total),
            rows([Button(ctx.t("match.button.next_page"), CandidatesPage(page + 1).pack())]),
        )


@router.command("pairs", help=N_("help.pairs"), role=Role.MATCHMAKER, private=True)
async def pairs_command(ctx: Context) -> None:
    profile_id = read_id(ctx.args)
    if profile_id is None:
        ctx.reply(ctx.t("match.pairs_usage"))
        return
    await show_suggestions(ctx, SuggestFor(profile_id))


@router.button(SuggestFor, role=Role.MATCHMAKER, private=True)
async def show_suggestions(ctx: Context, press: SuggestFor) -> None:
    profile_id = press.profile_id
    profile = await matchmaking.active_profile(ctx.session, profile_id)
    found = await matchmaking.suggestions(
        ctx.session, ctx.settings.key_dir, ctx.member.id, profile, utcnow()
    )
    if not found:
        ctx.reply(ctx.t("match.no_suggestions", number=profile_id))
        return
    ctx.reply(ctx.t("match.suggestions", number=profile_id))
    for suggestion in found:
        reasons = "；".join(
            ctx.t(
                REASONS[msgid],
                **{k: hobby_names(ctx.t, v) if k == "hobbies" else v for k, v in values.items()},
            )
            for msgid, values in suggestion.reasons
        )
        other = suggestion.profile
        text = ctx.t("match.suggestion", score=suggestion.score, reasons=reasons)
        ctx.reply(
            text + "\n" + card(ctx.t, other),
            rows([Button(ctx.t("match.button.propose"), Propose(profile_id, other.id).pack())]),
        )


@router.command("introduce", help=N_("help.introduce"), role=Role.MATCHMAKER, private=True)
async def introduce_command(ctx: Context) -> None:
    numbers = read_numbers(ctx.args)
    if numbers is None or len(numbers) != 2:
        ctx.reply(ctx.t("match.introduce_usage"))
        return
    await propose(ctx, Propose(*numbers))


@router.button(Propose, role=Role.MATCHMAKER, private=True)
async def propose(ctx: Context, press: Propose) -> None:
    intro, one, other = await matchmaking.propose(
        ctx.session, ctx.settings.key_dir, ctx.member.id, press.one_id, press.other_id, utcnow()
    )
    ctx.schedule(END_KIND, intro.id, intro.expires_at)
    for me, them in ((one, other), (other, one)):
        ctx.send(me.member_id, invitation(intro.id, them.id, profile_values(them)))
    ctx.reply(ctx.t("match.proposed", number=intro.id, one=one.id, other=other.id))


def invitation(intro_id: int, number: int, values: dict[str, object]) -> MessageBuilder:
    """The anonymous description of the other person, with accept and decline buttons."""

    def build(t: Translator) -> Outgoing:
        text = t("intro.invitation", number=intro_id, days=matchmaking.INTRODUCTION_LIFETIME.days)
        return Outgoing(
            text
            + "\n"
            + t("match.card", number=number)
            + "\n"
            + describe(t, values, private=False),
            rows(
                [
                    Button(t("intro.button.accept"), IntroPress("y", intro_id).pack()),
                    Button(t("intro.button.decline"), IntroPress("n", intro_id).pack()),
                ]
            ),
            kind=Notification.INTRODUCTION,
        )

    return build


def closed_notice(intro_id: int) -> MessageBuilder:
    """The same words for everyone, whoever declined: a decline is never traced to a person."""
    return lambda t: Outgoing(t("intro.closed_notice", number=intro_id))


async def ended_fan_out(
    app: App, session: AsyncSession, intro_id: int
) -> list[tuple[int, MessageBuilder]]:
    """At an introduction's end: close it if not both accepted, and tell both sides and the
    matchmaker. Closing and the notices are one transaction, so a job run again tells
    nobody twice."""
    intro = await matchmaking.end_introduction(session, intro_id, utcnow())
    if intro is None:
        return []
    return [
        (member_id, closed_notice(intro.id))
        for member_id in (intro.member_a_id, intro.member_b_id, intro.matchmaker_id)
        if member_id is not None
    ]


def contact_card(intro_id: int, name: str, contact: str) -> MessageBuilder:
    def build(t: Translator) -> Outgoing:
        return Outgoing(
            t("intro.matched", number=intro_id, name=name, contact=contact),
            rows(
                [
                    Button(t("intro.button.block"), IntroPress("b", intro_id).pack()),
                    Button(t("intro.button.report"), IntroPress("r", intro_id).pack()),
                ]
            ),
        )

    return build


@router.button(IntroPress, private=True)
async def answer_introduction(ctx: Context, press: IntroPress) -> None:
    action, intro_id = press.action, press.intro_id
    if action == "b":
        await block(ctx, intro_id)
        return
    if action == "r":
        ctx.reply(ctx.t("intro.report_how", number=intro_id))
        return
    intro = await matchmaking.answer(ctx.session, intro_id, ctx.member.id, action == "y", utcnow())
    if action != "y":
        ctx.reply(ctx.t("intro.declined", days=matchmaking.INTRODUCTION_LIFETIME.days))
    elif intro.status == IntroStatus.ACCEPTED:
        await reveal(ctx, intro)
    else:
        ctx.reply(ctx.t("intro.accepted_waiting"))


async def reveal(ctx: Context, intro: Introduction) -> None:
    """Both said yes: each gets the other's name and contact, and the matchmaker is told."""
    assert intro.member_a_id is not None and intro.member_b_id is not None
    a = await get_profile(ctx.session, intro.member_a_id)
    b = await get_profile(ctx.session, intro.member_b_id)
    assert a is not None and b is not None
    for me, them in ((a, b), (b, a)):
        message = contact_card(intro.id, them.display_name, them.contact)
        if me.member_id == ctx.member.id:
            ctx.answer(message(ctx.t))
        else:
            ctx.send(me.member_id, message)
    if intro.matchmaker_id is not None:
        number = intro.id
        ctx.send(intro.matchmaker_id, lambda t: Outgoing(t("intro.both_accepted", number=number)))


@router.command("block", help=N_("help.block"), private=True)
async def block_command(ctx: Context) -> None:
    intro_id = read_id(ctx.args)
    if intro_id is None:
        ctx.reply(ctx.t("intro.block_usage"))
        return
    await block(ctx, intro_id)


async def block(ctx: Context, intro_id: int) -> None:
    await matchmaking.block(ctx.session, intro_id, ctx.member.id, utcnow())
    ctx.reply(ctx.t("intro.blocked"))


@router.command("report", help=N_("help.report"), private=True)
async def report(ctx: Context) -> None:
    number, _, reason = ctx.args.partition(" ")
    reason = reason.strip()
    intro_id = read_id(number)
    if intro_id is None or not reason:
        ctx.reply(ctx.t("intro.report_usage"))
        return
    row = await matchmaking.report(ctx.session, intro_id, ctx.member.id, reason[:500])
    names = {
        "number": row.id,
        "intro": intro_id,
        "reason": row.reason,
        "reporter": await _name(ctx, row.reporter_id),
        "reported": await _name(ctx, row.reported_id),
    }
    for officer_id in await members.role_holders(ctx.session, Role.OFFICER):
        ctx.send(officer_id, lambda t: Outgoing(t("intro.report_to_officers", **names)))
    ctx.reply(ctx.t("intro.reported"))


async def _name(ctx: Context, member_id: int | None) -> str:
    """How officers know a reported person: their card number, never their nickname."""
    profile = await get_profile(ctx.session, member_id) if member_id is not None else None
    return f"#{profile.id}" if profile is not None else "-"


@router.command("outcome", help=N_("help.outcome"), private=True, listed_for=Role.MATCHMAKER)
async def record_outcome(ctx: Context) -> None:
    """The introducing matchmaker or an officer (checked in storage, per introduction)."""
    roles = await ctx.roles()
    officer = roles.has(Role.OFFICER)
    if not (officer or roles.has(Role.MATCHMAKER)):
        ctx.reply(ctx.t("role.refused", role=ctx.t(f"role.{Role.MATCHMAKER.value}")))
        return
    number, _, name = ctx.args.partition(" ")
    outcomes = {ctx.t(msgid): outcome for outcome, msgid in OUTCOME_NAMES.items()}
    outcome = outcomes.get(name.strip()) or (
        Outcome(name.strip()) if name.strip() in tuple(Outcome) else None
    )
    intro_id = read_id(number)
    if intro_id is None or outcome is None:
        ctx.reply(ctx.t("match.outcome_usage", outcomes=ctx.t.join(outcomes)))
        return
    await matchmaking.record_outcome(
        ctx.session, intro_id, outcome, utcnow(), ctx.member.id, officer
    )
    ctx.reply(ctx.t("match.outcome_saved", number=intro_id, outcome=ctx.t(OUTCOME_NAMES[outcome])))


@router.command("gifts", help=N_("help.gifts"), role=Role.OFFICER, private=True)
async def married_couples(ctx: Context) -> None:
    couples = await matchmaking.married_couples(ctx.session)
    if not couples:
        ctx.reply(ctx.t("match.no_couples"))
        return
    lines = [
        ctx.t(
            "match.couple",
            number=intro.id,
            one=_card_number(ctx, one),
            other=_card_number(ctx, other),
            when=_date(ctx, intro),
        )
        for intro, one, other in couples
    ]
    ctx.reply(ctx.t("match.couples") + "\n" + "\n".join(lines))


def _card_number(ctx: Context, number: int | None) -> str:
    return f"#{number}" if number is not None else ctx.t("match.forgotten")


def _date(ctx: Context, intro: Introduction) -> str:
    when = intro.outcome_at or intro.created_at
    return when.astimezone(ctx.settings.zone).strftime("%Y-%m-%d")


@router.command("mmstats", help=N_("help.mmstats"), role=Role.OFFICER, private=True)
async def statistics(ctx: Context) -> None:
    stats = await matchmaking.matchmaker_stats(ctx.session)
    if not stats:
        ctx.reply(ctx.t("match.no_stats"))
        return
    lines = [
        ctx.t(
            "match.stats_line",
            name=s.name,
            introductions=s.introductions,
            accepted=s.accepted,
            couples=s.couples,
        )
        for s in stats
    ]
    ctx.reply(ctx.t("match.stats") + "\n" + "\n".join(lines))


@router.command("viewlog", help=N_("help.viewlog"), role=Role.OFFICER, private=True)
async def view_log(ctx: Context) -> None:
    entries = await matchmaking.view_log(ctx.session, LOG_LINES)
    if not entries:
        ctx.reply(ctx.t("match.no_views"))
        return
    lines = [
        ctx.t(
            "match.view_line",
            when=view.viewed_at.astimezone(ctx.settings.zone).strftime("%Y-%m-%d %H:%M"),
            matchmaker=matchmaker,
            number=_card_number(ctx, number),
        )
        for view, matchmaker, number in entries
    ]
    ctx.reply(ctx.t("match.views") + "\n" + "\n".join(lines))


router.reminder(END_KIND)(ended_fan_out)
