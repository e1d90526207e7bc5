"""The commands every member has: menu, help, language, cancel."""

from __future__ import annotations

from bot import dialogs
from bot.context import Context
from bot.i18n import N_
from bot.messages import Button, rows
from bot.router import FreeText, Router
from bot.settings import LANGUAGES

router = Router("core")
router.menu(N_("menu.help"), "help", order=900)
router.menu(N_("menu.language"), "lang", order=910)

LANGUAGE_NAMES = {"zh_CN": "简体中文", "en": "English"}


@router.command("start")
@router.command("menu", help=N_("help.menu"))
async def menu(ctx: Context) -> None:
    await ctx.dispatcher.show_menu(ctx)


MENU_WORDS = frozenset({"菜单", "menu", "主菜单"})
"""Typed without a slash, as members on WeChat do, these open the menu on every channel."""


@router.text(FreeText.NAVIGATION)
async def menu_word(ctx: Context) -> bool:
    if (ctx.message.text or "").strip().lower() not in MENU_WORDS:
        return False
    await ctx.dispatcher.show_menu(ctx)
    return True


@router.button("menu")
async def menu_button(ctx: Context) -> None:
    await ctx.dispatcher.show_menu(ctx, replaces_menu=True)


@router.command("help", help=N_("help.help"))
@router.button("help")
async def show_help(ctx: Context) -> None:
    lines = [f"/{c.name} — {ctx.t(c.help)}" for c in await ctx.dispatcher.commands_for(ctx)]
    ctx.reply(ctx.t("help.title") + "\n" + "\n".join(lines), ctx.dispatcher.menu_button(ctx))


@router.command("lang", help=N_("help.lang"))
@router.button("lang")
async def choose_language(ctx: Context) -> None:
    if ctx.args:
        await _set_language(ctx, ctx.args)
        return
    buttons = [Button(name, f"lang:{code}") for code, name in LANGUAGE_NAMES.items()]
    ctx.reply(ctx.t("lang.choose"), rows(buttons), replaces_menu=ctx.message.payload is not None)


async def _set_language(ctx: Context, choice: str) -> None:
    language = {"zh": "zh_CN", "cn": "zh_CN", "中文": "zh_CN"}.get(choice.lower(), choice)
    if language not in LANGUAGES:
        ctx.reply(ctx.t("lang.unknown", choice=choice[:20]))
        return
    ctx.member.language = language
    ctx.t = ctx.dispatcher.translations[language]
    ctx.reply(ctx.t("lang.set"))
    await ctx.dispatcher.show_menu(ctx)


@router.command("cancel", help=N_("help.cancel"))
async def cancel(ctx: Context) -> None:
    if await dialogs.cancel_form(ctx):
        ctx.reply(ctx.t("form.cancelled"), ctx.dispatcher.menu_button(ctx))
    else:
        ctx.reply(ctx.t("form.nothing_to_cancel"), ctx.dispatcher.menu_button(ctx))
