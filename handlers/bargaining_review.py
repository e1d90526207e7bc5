"""The officers' side of bargaining: every enterprise's sessions and their steps, closing
"filing and review" (step 9), sending a session back to an earlier step with a reason on
record, the record of transitions, and the bargaining index."""

from __future__ import annotations

from dataclasses import dataclass

from bot.context import Context
from bot.i18n import N_
from bot.messages import Outgoing, rows
from bot.numbers import read_id, read_number
from bot.paging import navigation, page_of
from bot.payloads import Payload
from bot.router import Router
from handlers.bargaining import close_current_step, describe, notify, progress, step_name
from storage import bargaining as store
from storage.bargaining_index import bargaining_indexes, indexed_count
from storage.models import Role
from storage.models.bargaining import BargainingSession
from storage.types import utcnow

router = Router("bargaining_review")


@dataclass(frozen=True)
class IndexPage(Payload, prefix="bgi"):
    page: int


INDEX_PAGE_SIZE = 20


@router.command("bg_all", help=N_("help.bg_all"), role=Role.OFFICER)
async def all_sessions(ctx: Context) -> None:
    found = await store.all_sessions(ctx.session)
    if not found:
        ctx.reply(ctx.t("bargaining.none_at_all"))
        return
    lines = [
        ctx.t(
            "bargaining.overview_item",
            id=bs.id,
            enterprise=name,
            title=bs.title,
            progress=progress(ctx.t, bs.step),
        )
        for bs, name in found
    ]
    ctx.reply(ctx.t("bargaining.overview") + "\n" + "\n".join(lines))


async def _officer_session(ctx: Context, number: str) -> BargainingSession | None:
    session_id = read_id(number)
    bs = await ctx.session.get(BargainingSession, session_id) if session_id else None
    if bs is None:
        ctx.reply(ctx.t("bargaining.no_such_session"))
    return bs


@router.command("bg_review", help=N_("help.bg_review"), role=Role.OFFICER)
async def review(ctx: Context) -> None:
    bs = await _officer_session(ctx, ctx.args)
    if bs is not None:
        await close_current_step(ctx, bs, officer=True)


@router.command("bg_reopen", help=N_("help.bg_reopen"), role=Role.OFFICER)
async def reopen(ctx: Context) -> None:
    number, step, reason = ([*ctx.args.split(maxsplit=2), "", "", ""])[:3]
    to_step = read_number(step)
    if to_step is None or not reason:
        ctx.reply(ctx.t("bargaining.usage.reopen"))
        return
    bs = await _officer_session(ctx, number)
    if bs is None:
        return
    await store.reopen_step(
        ctx.session, bs, to_step, ctx.member.id, reason[:200], utcnow(), ctx.settings.key_dir
    )
    ctx.reply(ctx.t("bargaining.reopened", step=step_name(ctx.t, bs.step)))
    title, now_step = bs.title, bs.step
    notify(
        ctx,
        [
            *await store.chair_ids(ctx.session, bs.enterprise_id),
            *await store.follower_ids(ctx.session, bs.id),
        ],
        lambda t: Outgoing(
            t("bargaining.reopened_notice", title=title, step=step_name(t, now_step), reason=reason)
        ),
    )


@router.command("bg_log", help=N_("help.bg_log"), role=Role.OFFICER, private=True)
async def transition_log(ctx: Context) -> None:
    bs = await _officer_session(ctx, ctx.args)
    if bs is None:
        return
    actions = {
        "start": N_("bargaining.action.start"),
        "close": N_("bargaining.action.close"),
        "reopen": N_("bargaining.action.reopen"),
    }
    lines = []
    for item in await store.transitions(ctx.session, bs.id):
        when = item.at.astimezone(ctx.settings.zone).strftime("%Y-%m-%d %H:%M")
        lines.append(
            f"{when} {ctx.t(actions[item.action])} {step_name(ctx.t, item.step)}"
            f" #{item.member_id or '-'} {item.note or ''}".rstrip()
        )
    ctx.reply(describe(ctx.t, bs) + "\n" + "\n".join(lines))


@router.command("bg_index", help=N_("help.bg_index"), role=Role.OFFICER)
async def index_command(ctx: Context) -> None:
    """``/bg_index [PAGE]``."""
    await index(ctx, IndexPage(read_number(ctx.args) or 1))


@router.button(IndexPage, role=Role.OFFICER)
async def index(ctx: Context, press: IndexPage) -> None:
    page = page_of(press.page, await indexed_count(ctx.session), INDEX_PAGE_SIZE)
    if not page.total:
        ctx.reply(ctx.t("bargaining.none_at_all"))
        return
    lines = [ctx.t("bargaining.index_title", page=page.number, pages=page.pages)]
    for found in await bargaining_indexes(ctx.session, page.offset, page.size):
        lines.append(
            ctx.t(
                "bargaining.index_item",
                enterprise=found.enterprise,
                sessions=found.sessions,
                value=f"{found.value:.0f}",
                participation=f"{found.participation:.0%}",
                turnout=f"{found.turnout:.0%}",
                adopted=f"{found.adopted:.0%}",
                on_time=f"{found.on_time:.0%}",
            )
        )
    ctx.reply(
        "\n".join(lines),
        rows(navigation(ctx.t, page, lambda n: IndexPage(n).pack())),
        replaces_menu=ctx.message.payload is not None,
    )
