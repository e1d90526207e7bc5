"""A member's own details (/me) and linking their accounts on several channels (/link)."""

from __future__ import annotations

from typing import Any

from bot.context import Context
from bot.dialogs import (
    CHOICES_SHOWN,
    Choice,
    Field,
    Form,
    Invalid,
    choice_field,
    start_form,
    text_field,
)
from bot.i18n import N_
from bot.messages import Outgoing
from bot.router import Router
from handlers.membership import request_buttons
from storage import members, memberships
from storage.bargaining import chair_ids
from storage.enterprises import search_enterprises
from storage.members import LINK_CODE_LIFETIME
from storage.memberships import Status
from storage.models import Enterprise
from storage.types import utcnow

router = Router("account")
router.menu(N_("menu.me"), "me", order=800)


async def enterprise_choices(ctx: Context) -> list[Choice]:
    return await search_enterprise_choices(ctx, "")


async def search_enterprise_choices(ctx: Context, word: str) -> list[Choice]:
    """The first enterprises, or those whose name has the word: never all thousand."""
    found = await search_enterprises(ctx.session, word, CHOICES_SHOWN)
    return [Choice(str(e.id), f"{e.name}（{e.city}）") for e in found]


def parse_number(answer: str) -> str:
    """Hashed as it is typed, so not even the form's saved state holds the number."""
    number = memberships.normal_number(answer)
    if number is None:
        raise Invalid("me.bad_number")
    return memberships.hash_number(number)


async def summarise(ctx: Context, data: dict[str, Any]) -> str:
    found = await ctx.session.get(Enterprise, int(data["enterprise"] or 0))
    enterprise = f"{found.name}（{found.city}）" if found else ctx.t("form.skipped")
    number = ctx.t("me.number_given") if data.get("number") else "-"
    return ctx.t(
        "me.summary",
        real_name=data["real_name"],
        town=data["town"],
        enterprise=enterprise,
        number=number,
    )


async def save_details(ctx: Context, data: dict[str, Any]) -> None:
    """Save the details; a new enterprise is a request, verified by the roster or the chair."""
    ctx.member.real_name = data["real_name"]
    ctx.member.town = data["town"]
    enterprise_id = int(data["enterprise"]) if data["enterprise"] else None
    was = (ctx.member.enterprise_id, ctx.member.enterprise_status)
    status = await memberships.request(
        ctx.session, ctx.member, enterprise_id, data.get("number"), utcnow()
    )
    ctx.reply(ctx.t("me.saved"), ctx.dispatcher.menu_button(ctx))
    if status is None or was == (enterprise_id, status):
        return
    if status is Status.VERIFIED:
        ctx.reply(ctx.t("membership.verified_by_roster"))
        return
    assert enterprise_id is not None
    chairs = await chair_ids(ctx.session, enterprise_id)
    ctx.reply(ctx.t("membership.pending" if chairs else "membership.pending_officer"))
    member_id, name, real_name, town = (
        ctx.member.id,
        ctx.member.display_name,
        ctx.member.real_name,
        ctx.member.town,
    )
    for chair in chairs:
        ctx.send(
            chair,
            lambda t: Outgoing(
                t("membership.new_request", name=name, real_name=real_name, town=town),
                request_buttons(t, member_id),
            ),
        )


details_form = router.form(
    Form(
        name="me",
        fields=(
            text_field("real_name", N_("me.ask_real_name"), min_length=2, max_length=20),
            text_field("town", N_("me.ask_town"), min_length=2, max_length=20),
            choice_field(
                "enterprise",
                N_("me.ask_enterprise"),
                enterprise_choices,
                optional=True,
                search=search_enterprise_choices,
            ),
            Field("number", N_("me.ask_number"), parse=parse_number, optional=True),
        ),
        on_done=save_details,
        summary=summarise,
    )
)


@router.command("me", help=N_("help.me"), private=True)
@router.button("me", private=True)
async def edit_details(ctx: Context) -> None:
    await start_form(ctx, details_form)


@router.command("link", help=N_("help.link"), private=True)
async def link(ctx: Context) -> None:
    """``/link`` makes a code here; ``/link CODE`` on another channel joins that account."""
    now = utcnow()
    if not ctx.args:
        code = await members.create_link_code(ctx.session, ctx.member.id, now)
        minutes = int(LINK_CODE_LIFETIME.total_seconds() // 60)
        ctx.reply(ctx.t("link.code", code=code.code, minutes=minutes))
        return
    try:
        member = await members.use_link_code(ctx.session, ctx.args, ctx.identity, now)
    except members.LinkConflict as conflict:
        ctx.reply(ctx.t(conflict.msgid))
        return
    if member is None:
        ctx.reply(ctx.t("link.bad_code"))
        return
    ctx.member = member
    ctx.t = ctx.dispatcher.translations[member.language]
    ctx.reply(ctx.t("link.done", name=member.display_name))
