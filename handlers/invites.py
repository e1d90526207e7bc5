"""Taking a role invitation: the person sends the code ``unionbot invite`` printed, or opens
its deep link (``/start invite_CODE``, a WeChat QR code of ``invite_CODE``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.context import Context
from bot.payloads import Payload
from bot.router import FreeText, Router
from storage import invites
from storage.types import utcnow

log = logging.getLogger(__name__)

router = Router("invites")


@dataclass(frozen=True)
class InviteLink(Payload, prefix=invites.DEEP_LINK, link=True):
    code: str


@router.start(InviteLink)
async def invite_link(ctx: Context, press: InviteLink) -> None:
    await _redeem(ctx, invites.normal_code(press.code))


@router.text(FreeText.SHAPED)
async def invite_code(ctx: Context) -> bool:
    code = invites.normal_code(ctx.message.text or "")
    if code is None:
        return False
    await _redeem(ctx, code)
    return True


async def _redeem(ctx: Context, code: str | None) -> None:
    invite = await invites.redeem(ctx.session, code, ctx.member.id, utcnow()) if code else None
    if invite is None:
        ctx.reply(ctx.t("invite.invalid"), ctx.dispatcher.menu_button(ctx))
        return
    log.info(
        "invite %s taken: member %s is now %s %s",
        invite.id,
        ctx.member.id,
        invite.role,
        invite.scope,
    )
    ctx.reply(ctx.t("invite.accepted", role=ctx.t(f"role.{invite.role}")))
    await ctx.dispatcher.show_menu(ctx)
