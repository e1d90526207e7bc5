"""``/broadcasts`` for officers: each broadcast's progress and final counts by status, the
settled rows by route (mass send, customer service, template, inbox...) and outcome, and
what WeChat reported of its mass sends (``MASSSENDJOBFINISH``). Counts are read from the
broadcasts' counters (:mod:`storage.broadcasts`), never by counting the outbox."""

from __future__ import annotations

from sqlalchemy import select

from bot.context import Context
from bot.i18n import N_
from bot.messages import Button, rows
from bot.router import Router
from storage import broadcasts, wechat_mass
from storage.models import DeliveryStatus, Notice, Role, Route
from storage.types import utcnow

router = Router("broadcasts")
router.menu(N_("menu.broadcasts"), "bc", role=Role.OFFICER, order=320)

SHOWN = 10
STATUS_LABELS = {
    DeliveryStatus.SENT: N_("broadcasts.status.sent"),
    DeliveryStatus.PENDING: N_("broadcasts.status.pending"),
    DeliveryStatus.FAILED: N_("broadcasts.status.failed"),
    DeliveryStatus.BLOCKED: N_("broadcasts.status.blocked"),
}
ROUTE_LABELS = {
    Route.MASS: N_("broadcasts.route.mass"),
    Route.CUSTOMER_SERVICE: N_("broadcasts.route.customer_service"),
    Route.TEMPLATE: N_("broadcasts.route.template"),
    Route.INBOX: N_("broadcasts.route.inbox"),
    Route.PASSIVE: N_("broadcasts.route.passive"),
    "": N_("broadcasts.route.other"),
}


@router.command("broadcasts", help=N_("help.broadcasts"), role=Role.OFFICER)
@router.button("bc", role=Role.OFFICER)
async def show_broadcasts(ctx: Context) -> None:
    zone = ctx.settings.zone
    lines = [ctx.t("broadcasts.title")]
    waiting = await ctx.session.scalars(
        select(Notice).where(Notice.send_at > utcnow()).order_by(Notice.send_at)
    )
    for notice in waiting:
        assert notice.send_at is not None
        when = notice.send_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        lines.append(ctx.t("broadcasts.waiting", title=notice.title, when=when))
    recent = await broadcasts.recent_broadcasts(ctx.session, SHOWN)
    by_route = await broadcasts.tallies(ctx.session, [b.id for b in recent])
    counts = broadcasts.by_status(recent, by_route)
    mass = await wechat_mass.reconciled(ctx.session, [b.id for b in recent])
    notice_ids = {b.notice_id for b in recent if b.notice_id}
    found = await ctx.session.execute(
        select(Notice.id, Notice.title).where(Notice.id.in_(notice_ids))
    )
    titles = {notice_id: title for notice_id, title in found}
    for broadcast in recent:
        by_status = counts[broadcast.id]
        parts = [
            f"{ctx.t(label)} {by_status[status]}"
            for status, label in STATUS_LABELS.items()
            if by_status.get(status)
        ]
        title = titles.get(broadcast.notice_id or 0, broadcast.key)
        if broadcast.key.startswith("notice_deadline:"):
            title = ctx.t("broadcasts.reminder_of", title=title)
        state = ctx.t(
            "broadcasts.done"
            if broadcast.finished_at
            else "broadcasts.ongoing"
            if broadcast.expanded_at
            else "broadcasts.preparing"
        )
        when = broadcast.created_at.astimezone(zone).strftime("%m-%d %H:%M")
        lines.append(
            ctx.t(
                "broadcasts.line",
                id=broadcast.id,
                when=when,
                title=title,
                state=state,
                total=broadcast.total,
                counts=ctx.t.join(parts) or "-",
            )
        )
        if any(route for route, _ in by_route[broadcast.id]):
            lines.append(_route_line(ctx, by_route[broadcast.id]))
        if broadcast.id in mass:
            lines.append(_mass_line(ctx, mass[broadcast.id]))
    if len(lines) == 1:
        lines.append(ctx.t("broadcasts.none"))
    ctx.reply(
        "\n".join(lines),
        rows(
            [Button(ctx.t("broadcasts.button.refresh"), "bc")],
            [Button(ctx.t("menu.button"), "menu")],
        ),
        replaces_menu=ctx.message.payload is not None,
    )


def _route_line(ctx: Context, tallies: dict[tuple[str, str], int]) -> str:
    """Settled rows by route, with the outcomes other than sent: "群发 5、客服消息 2（失败 1）"."""
    parts = []
    for route, label in ROUTE_LABELS.items():
        outcomes = {status: n for (r, status), n in tallies.items() if r == route and n}
        if not outcomes:
            continue
        part = f"{ctx.t(label)} {sum(outcomes.values())}"
        others = [
            f"{ctx.t(STATUS_LABELS[DeliveryStatus(status)])} {n}"
            for status, n in outcomes.items()
            if status != DeliveryStatus.SENT
        ]
        if others:
            part += ctx.t("broadcasts.route_outcomes", outcomes=ctx.t.join(others))
        parts.append(part)
    return ctx.t("broadcasts.routes", routes=ctx.t.join(parts))


def _mass_line(ctx: Context, figures: wechat_mass.Reconciled) -> str:
    line = ctx.t(
        "broadcasts.mass",
        batches=figures.batches,
        handed=figures.handed,
        sent=figures.sent,
        filtered=figures.filtered_out,
        errors=figures.errors,
    )
    if figures.pending:
        line += ctx.t("broadcasts.mass_pending", count=figures.pending)
    return line
