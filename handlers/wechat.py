"""The inbox: messages WeChat would not let the bot push (the member had not written for
48 hours, or a limit was reached) wait here until the member asks with ``/inbox``."""

from __future__ import annotations

from bot.context import Context
from bot.i18n import N_
from bot.messages import from_json
from bot.router import Router
from storage import wechat

router = Router("wechat")


@router.command("inbox", help=N_("help.inbox"), private=True)
async def inbox(ctx: Context) -> None:
    waiting = await wechat.take_inbox(ctx.session, ctx.member.id)
    if not waiting:
        ctx.reply(ctx.t("wechat.inbox_empty"), ctx.dispatcher.menu_button(ctx))
        return
    ctx.reply(ctx.t("wechat.inbox_title", count=len(waiting)))
    for body in waiting:
        ctx.answer(from_json(body))
