"""The suggestion box (收集建议): members suggest, the chair adopts or answers, the author is
told. ``/suggest_anon`` hides the author's name from the chair (the bot still knows whom to
tell)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.context import Context
from bot.i18n import N_
from bot.messages import Button, Outgoing, rows
from bot.numbers import read_id
from bot.payloads import Payload
from bot.router import Router
from handlers.bargaining import my_session
from storage import suggestions as store
from storage.bargaining import chair_session, followed_session
from storage.models import Role
from storage.types import utcnow

router = Router("suggestions")

STATUSES = {
    "new": N_("suggestions.status.new"),
    "adopted": N_("suggestions.status.adopted"),
    "answered": N_("suggestions.status.answered"),
}


async def _suggest(ctx: Context, anonymous: bool) -> None:
    if not ctx.args:
        ctx.reply(ctx.t("suggestions.usage"))
        return
    bs = await followed_session(ctx.session, ctx.member.id, running=True)
    if bs is None:
        ctx.reply(ctx.t("bargaining.not_following"))
        return
    await store.suggest(ctx.session, bs.id, ctx.member.id, ctx.args[:2000], anonymous, utcnow())
    ctx.reply(ctx.t("suggestions.thanks_anonymous" if anonymous else "suggestions.thanks"))


@router.command("suggest", help=N_("help.suggest"), private=True)
async def suggest(ctx: Context) -> None:
    await _suggest(ctx, anonymous=False)


@router.command("suggest_anon", help=N_("help.suggest_anon"), private=True)
async def suggest_anonymously(ctx: Context) -> None:
    await _suggest(ctx, anonymous=True)


@router.command("suggestions", help=N_("help.suggestions"), role=Role.CHAIR, private=True)
async def list_suggestions(ctx: Context) -> None:
    bs = await chair_session(ctx.session, (await ctx.roles()).scopes(Role.CHAIR))
    if bs is None:
        ctx.reply(ctx.t("bargaining.no_session"))
        return
    found = await store.suggestions_for_chair(ctx.session, bs.id)
    if not found:
        ctx.reply(ctx.t("suggestions.none"))
        return
    ctx.reply(ctx.t("suggestions.title"))
    for suggestion, author in found:
        text = ctx.t(
            "suggestions.item",
            id=suggestion.id,
            author=author or ctx.t("suggestions.anonymous"),
            status=ctx.t(STATUSES[suggestion.status]),
            text=suggestion.text,
        )
        buttons = []
        if suggestion.status == "new":
            buttons.append(
                Button(ctx.t("suggestions.button.adopt"), AdoptPress(suggestion.id).pack())
            )
        ctx.reply(text, rows(buttons))


@router.command("adopt", help=N_("help.adopt"), role=Role.CHAIR, private=True)
async def adopt(ctx: Context) -> None:
    number, _, answer = ctx.args.partition(" ")
    await _mark(ctx, number, "adopted", answer.strip() or None)


@dataclass(frozen=True)
class AdoptPress(Payload, prefix="sg"):
    suggestion_id: int


@router.button(AdoptPress, role=Role.CHAIR, private=True)
async def adopt_button(ctx: Context, press: AdoptPress) -> None:
    await _mark(ctx, str(press.suggestion_id), "adopted", None)


@router.command("answer", help=N_("help.answer"), role=Role.CHAIR, private=True)
async def answer(ctx: Context) -> None:
    number, _, text = ctx.args.partition(" ")
    if not text.strip():
        ctx.reply(ctx.t("suggestions.usage.answer"))
        return
    await _mark(ctx, number, "answered", text.strip())


async def _mark(ctx: Context, number: str, status: str, answer: str | None) -> None:
    suggestion_id = read_id(number)
    if suggestion_id is None:
        ctx.reply(ctx.t("suggestions.usage.answer"))
        return
    bs = await my_session(ctx)
    if bs is None:
        return
    suggestion = await store.mark(ctx.session, bs.id, suggestion_id, status, answer)
    ctx.reply(ctx.t("suggestions.marked", id=suggestion.id, status=ctx.t(STATUSES[status])))
    if suggestion.author_id is None:
        return
    text, title, reply = suggestion.text, bs.title, answer or ""
    msgid = "suggestions.adopted_notice" if status == "adopted" else "suggestions.answered_notice"
    ctx.send(
        suggestion.author_id,
        lambda t: Outgoing(t(msgid, title=title, text=text[:200], answer=reply)),
    )
