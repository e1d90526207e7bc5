"""The commands every member has: menu, help, language, cancel."""

from __future__ import annotations

from dataclasses import dataclass

from bot import dialogs
from bot.context import Context
from bot.i18n import N_
from bot.messages import Button, rows
from bot.payloads import Payload
from bot.router import FreeText, Router
from bot.settings import LANGUAGES


@dataclass(frozen=True)
class LanguagePress(Payload, prefix="lang"):
    """A language's button; without a code (``lang``), the choice of languages."""

    code: str = ""


router = Router("core")
router.menu(N_("menu.help"), "help", order=900)
router.menu(N_("menu.language"), LanguagePress().pack(), order=910)

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
async def language_command(ctx: Context) -> None:
    """``/lang`` offers the languages; ``/lang en`` (or ``zh``, ``中文``) chooses one."""
    if not ctx.args:
        _offer_languages(ctx)
        return
    choice = ctx.args
    language = {"zh": "zh_CN", "cn": "zh_CN", "中文": "zh_CN"}.get(choice.lower(), choice)
    if language not in LANGUAGES:
        ctx.reply(ctx.t("lang.unknown", choice=choice[:20]))
        return
    await _set_language(ctx, language)


@router.button(LanguagePress)
async def language_button(ctx: Context, press: LanguagePress) -> None:
    if not press.code:
        _offer_languages(ctx)
    elif press.code not in LANGUAGES:
        ctx.dispatcher.stale(ctx)
    else:
        await _set_language(ctx, press.code)


def _offer_languages(ctx: Context) -> None:
    buttons = [Button(name, LanguagePress(code).pack()) for code, name in LANGUAGE_NAMES.items()]
    ctx.reply(ctx.t("lang.choose"), rows(buttons), replaces_menu=ctx.message.payload is not None)


async def _set_language(ctx: Context, language: str) -> None:
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
