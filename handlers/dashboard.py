"""Signing in to the officials' dashboard from chat: ``/dashboard`` answers an officer with
a one-time code and the address to enter it at (a screen in the office need not be the
officer's phone)."""

from __future__ import annotations

from bot.context import Context
from bot.i18n import N_
from bot.messages import Button, rows
from bot.router import Router
from storage import web_signin
from storage.models import Role
from storage.types import utcnow

router = Router("dashboard")


@router.command("dashboard", help=N_("help.dashboard"), role=Role.OFFICER, private=True)
async def dashboard(ctx: Context) -> None:
    if ctx.settings.web_url is None:
        ctx.reply(ctx.t("pages.unavailable"))
        return
    code = await web_signin.new_code(ctx.session, ctx.settings.key_dir, ctx.member.id, utcnow())
    address = f"{ctx.settings.web_url}/w/signin"
    ctx.reply(
        ctx.t("dashboard.code", code=code, address=address, minutes=web_signin.CODE_MINUTES),
        rows([Button(ctx.t("dashboard.button.open"), url=address)]),
    )
