"""The chair's side of verified membership: pending requests and the member roster.

Chair (or officer): ``/requests`` lists who asked to belong to the enterprise, with the
name, real name and town they gave, and buttons to approve or refuse; ``/approve ID`` and
``/refuse ID`` do the same by number. The member is told the outcome. Chair: ``/roster``
followed by lines ``name,employee number or mobile`` adds to the enterprise's roster and
verifies the pending requests it matches; the numbers are hashed before they are stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.context import Context
from bot.i18n import N_, Translator
from bot.messages import Button, Outgoing, rows
from bot.numbers import read_id
from bot.payloads import Payload
from bot.router import Router
from storage import memberships
from storage.models import Member, Role

router = Router("membership")

ROSTER_LINES = 500


@dataclass(frozen=True)
class AnswerPress(Payload, prefix="mr"):
    """Approve (``ok``) or refuse (``no``) a member's request to belong."""

    verdict: Literal["ok", "no"]
    member_id: int


def request_buttons(t: Translator, member_id: int) -> tuple[tuple[Button, ...], ...]:
    return rows(
        [
            Button(t("membership.button.approve"), AnswerPress("ok", member_id).pack()),
            Button(t("membership.button.refuse"), AnswerPress("no", member_id).pack()),
        ]
    )


async def _enterprises(ctx: Context) -> list[int] | None:
    """The enterprises whose requests this member answers; None for every one (officers)."""
    roles = await ctx.roles()
    if roles.has(Role.OFFICER):
        return None
    return [s for s in map(read_id, roles.scopes(Role.CHAIR)) if s]


@router.command("requests", help=N_("help.requests"), private=True)
async def list_requests(ctx: Context) -> None:
    scope = await _enterprises(ctx)
    if scope == []:
        ctx.reply(ctx.t("membership.chair_only"))
        return
    waiting = await memberships.pending(ctx.session, scope)
    if not waiting:
        ctx.reply(ctx.t("membership.no_requests"))
        return
    for member in waiting:
        ctx.reply(_describe(ctx.t, member), request_buttons(ctx.t, member.id))


def _describe(t: Translator, member: Member) -> str:
    return t(
        "membership.request",
        id=member.id,
        name=member.display_name,
        real_name=member.real_name or "-",
        town=member.town or "-",
    )


@router.button(AnswerPress, private=True)
async def answer_button(ctx: Context, press: AnswerPress) -> None:
    await _answer(ctx, press.member_id, press.verdict == "ok")


@router.command("approve", help=N_("help.approve"), private=True)
async def approve(ctx: Context) -> None:
    await _answer(ctx, read_id(ctx.args), True)


@router.command("refuse", help=N_("help.refuse"), private=True)
async def refuse(ctx: Context) -> None:
    await _answer(ctx, read_id(ctx.args), False)


async def _answer(ctx: Context, member_id: int | None, approve: bool) -> None:
    scope = await _enterprises(ctx)
    if scope == []:
        ctx.reply(ctx.t("membership.chair_only"))
        return
    member = await ctx.session.get(Member, member_id) if member_id else None
    if member is None or (scope is not None and member.enterprise_id not in scope):
        ctx.reply(ctx.t("membership.no_such_request"))
        return
    answered = await memberships.answer(ctx.session, member.id, approve)
    if answered is None:
        ctx.reply(ctx.t("membership.already_answered", name=member.display_name))
        return
    told = "membership.approved_for_chair" if approve else "membership.refused_for_chair"
    outcome = "membership.approved" if approve else "membership.refused"
    ctx.reply(ctx.t(told, name=member.display_name))
    ctx.send(member.id, lambda t: Outgoing(t(outcome)))


@router.command("roster", help=N_("help.roster"), role=Role.CHAIR, private=True)
async def import_roster(ctx: Context) -> None:
    scopes = [s for s in map(read_id, (await ctx.roles()).scopes(Role.CHAIR)) if s]
    lines = [line.strip() for line in ctx.args.splitlines() if line.strip()]
    if not scopes or not lines or len(lines) > ROSTER_LINES:
        ctx.reply(ctx.t("membership.usage.roster", maximum=ROSTER_LINES))
        return
    entries = []
    for n, line in enumerate(lines, 1):
        name, _, raw = line.replace("，", ",").partition(",")
        number = memberships.normal_number(raw)
        if not name.strip() or len(name.strip()) > 40 or number is None:
            ctx.reply(ctx.t("membership.bad_roster_line", line=n))
            return
        entries.append((name.strip(), memberships.hash_number(number)))
    verified = await memberships.add_to_roster(ctx.session, scopes[0], entries)
    ctx.reply(ctx.t("membership.roster_added", count=len(entries), verified=len(verified)))
    for member in verified:
        ctx.send(member.id, lambda t: Outgoing(t("membership.approved")))
