"""``/settings``: a member switches reminders on or off and sets quiet hours, during which
non-urgent messages wait until the morning (default 22:00–07:30, local time)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.context import Context
from bot.i18n import N_
from bot.messages import Button, rows
from bot.payloads import Payload
from bot.quiet import member_window
from bot.router import Router
from bot.settings import parse_window
from storage.member_settings import settings_of


@dataclass(frozen=True)
class SettingsPress(Payload, prefix="set"):
    """The settings (``set``), or a switch among them (``set:rem``, ``set:quiet``)."""

    switch: Literal["none", "rem", "quiet"] = "none"


router = Router("settings")
router.menu(N_("menu.settings"), SettingsPress().pack(), order=820)


@router.button(SettingsPress, private=True)
async def settings_button(ctx: Context, press: SettingsPress) -> None:
    if press.switch == "rem":
        await toggle_reminders(ctx)
    elif press.switch == "quiet":
        await toggle_quiet(ctx)
    else:
        await _show(ctx)


@router.command("settings", help=N_("help.settings"), private=True)
async def show_settings(ctx: Context) -> None:
    """``/settings`` shows them; ``/settings quiet 22:30-07:00`` or ``/settings quiet off``
    changes the quiet hours."""
    word, _, value = ctx.args.partition(" ")
    if word.lower() in ("quiet", "免打扰"):
        await _set_quiet(ctx, value.strip())
        return
    await _show(ctx)


async def _show(ctx: Context) -> None:
    chosen = await settings_of(ctx.session, ctx.member.id)
    window = member_window(ctx.settings, chosen)
    quiet = (
        ctx.t("settings.quiet_off") if window is None else f"{window[0]:%H:%M}–{window[1]:%H:%M}"
    )
    reminders = ctx.t("settings.on" if chosen.reminders else "settings.off")
    ctx.reply(
        ctx.t("settings.title", reminders=reminders, quiet=quiet),
        rows(
            [
                Button(
                    ctx.t(
                        "settings.button.reminders_off"
                        if chosen.reminders
                        else "settings.button.reminders_on"
                    ),
                    SettingsPress("rem").pack(),
                ),
                Button(
                    ctx.t(
                        "settings.button.quiet_off"
                        if chosen.quiet_hours
                        else "settings.button.quiet_on"
                    ),
                    SettingsPress("quiet").pack(),
                ),
            ],
            [Button(ctx.t("menu.button"), "menu")],
        ),
        replaces_menu=ctx.message.payload is not None,
    )


async def toggle_reminders(ctx: Context) -> None:
    chosen = await settings_of(ctx.session, ctx.member.id)
    chosen.reminders = not chosen.reminders
    ctx.reply(
        ctx.t("settings.reminders_now_on" if chosen.reminders else "settings.reminders_now_off")
    )
    await _show(ctx)


async def toggle_quiet(ctx: Context) -> None:
    chosen = await settings_of(ctx.session, ctx.member.id)
    chosen.quiet_hours = not chosen.quiet_hours
    await _show(ctx)


async def _set_quiet(ctx: Context, value: str) -> None:
    chosen = await settings_of(ctx.session, ctx.member.id)
    if value.lower() in ("off", "关", "关闭"):
        chosen.quiet_hours = False
        await _show(ctx)
        return
    window = parse_window(value)
    if window is None:
        ctx.reply(ctx.t("settings.bad_quiet"))
        return
    chosen.quiet_hours = True
    chosen.quiet_start, chosen.quiet_end = f"{window[0]:%H:%M}", f"{window[1]:%H:%M}"
    await _show(ctx)
