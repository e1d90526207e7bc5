"""``/broadcasts`` for officers: each broadcast's progress and final counts by status, read
from the broadcasts' counters (:mod:`storage.broadcasts`), never by counting the outbox."""

from __future__ import annotations

from sqlalchemy import select

from bot.context import Context
from bot.i18n import N_
from bot.messages import Button, rows
from bot.router import Router
from storage import broadcasts
from storage.models import DeliveryStatus, Notice, Role
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
    counts = await broadcasts.counts(ctx.session, recent)
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
