"""The officials' dashboard: every enterprise's bargaining session and step (overdue steps
highlighted by the guide times), the bargaining index per enterprise over its sessions,
broadcasts' deliveries by status over time, events with places taken, and each table as a
CSV download.

Only officers (and admins) see it. They sign in with a one-time code the bot sends to their
chat (``/dashboard``), which starts the same session cookie a link from chat does; the role
is checked again on every request, so a revoked officer is out at the next click.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.i18n import Translator
from bot.pages import charts
from bot.pages.site import HEADERS, Site, Viewer
from bot.spreadsheets import write_rows
from handlers.bargaining import progress
from storage import dashboard, events, members, web_signin
from storage.models import Role
from storage.models.events import Side
from storage.models.notices import DeliveryStatus
from storage.types import utcnow

TIME = "%Y-%m-%d %H:%M"
EVENTS_SHOWN = 200


@dataclass(frozen=True)
class Table:
    """One table of the dashboard, as shown and as downloaded."""

    name: str
    header: list[str]
    rows: list[list[str]]
    marked: list[bool]
    """Rows to highlight (overdue steps)."""


async def _tables(site: Site, session: AsyncSession, t: Translator, now: datetime) -> list[Table]:
    zone = site.app.settings.zone
    found = await dashboard.sessions(session, now)
    sessions = Table(
        "sessions",
        [
            t(h)
            for h in (
                "pages.col.enterprise",
                "pages.col.session",
                "pages.col.step",
                "pages.col.since",
                "pages.col.guide",
                "pages.col.overdue",
            )
        ],
        [
            [
                row.enterprise,
                f"{row.title} ({row.year})",
                progress(t, row.step),
                row.step_started_at.astimezone(zone).strftime(TIME),
                t("pages.days", days=row.guide_days) if row.guide_days else "",
                t("pages.overdue") if row.overdue else "",
            ]
            for row in found
        ],
        [row.overdue for row in found],
    )
    index = Table(
        "index",
        [t(h) for h in ("pages.col.enterprise", "pages.col.session", "pages.col.index")],
        [[r.enterprise, f"{r.title} ({r.year})", f"{r.index:.1f}"] for r in reversed(found)],
        [False] * len(found),
    )
    counts = await dashboard.delivery_counts(session, now)
    deliveries = Table(
        "deliveries",
        [
            t(h)
            for h in (
                "pages.col.broadcast",
                "pages.col.day",
                "pages.col.channel",
                "pages.col.status",
                "pages.col.count",
            )
        ],
        [[c.key, c.day.isoformat(), c.channel, c.status, str(c.count)] for c in counts],
        [False] * len(counts),
    )
    coming = await events.upcoming(session, now, 0, EVENTS_SHOWN)
    event_rows = []
    for places in coming:
        sides = [s for s in Side if places.event.places(s)]
        event_rows.append(
            [
                places.event.title,
                places.event.starts_at.astimezone(zone).strftime(TIME),
                places.event.place,
                str(sum(places.event.places(s) for s in sides)),
                str(sum(places.taken.values())),
                str(sum(places.waiting.values())),
            ]
        )
    event_table = Table(
        "events",
        [
            t(h)
            for h in (
                "pages.col.event",
                "pages.col.starts",
                "pages.col.place",
                "pages.col.places",
                "pages.col.taken",
                "pages.col.waiting",
            )
        ],
        event_rows,
        [False] * len(event_rows),
    )
    return [sessions, index, deliveries, event_table]


def _charts(t: Translator, tables: dict[str, Table]) -> dict[str, Markup]:
    by_enterprise: dict[str, list[float]] = defaultdict(list)
    for enterprise, _, value in tables["index"].rows:
        by_enterprise[enterprise].append(float(value))
    days = sorted({row[1] for row in tables["deliveries"].rows})
    per_status: dict[str, list[int]] = {s: [0] * len(days) for s in DeliveryStatus}
    for _, day, _, status, count in tables["deliveries"].rows:
        per_status[status][days.index(day)] += int(count)
    return {
        "index": charts.lines(t("pages.chart.index"), list(by_enterprise.items()), 100),
        "deliveries": charts.stacked(
            t("pages.chart.deliveries"),
            [day[5:] for day in days],
            [(status, values) for status, values in per_status.items() if any(values)],
        ),
        "events": charts.bars(
            t("pages.chart.events"),
            [(row[0], int(row[4])) for row in tables["events"].rows],
        ),
    }


def routes(site: Site) -> list[Route]:
    async def officer(request: Request) -> Viewer | Response:
        """The signed-in officer, or where to go instead: the sign-in page, or a refusal."""
        viewer = await site.viewer(request)
        if viewer is None:
            return RedirectResponse("/w/signin", 303, headers=HEADERS)
        async with site.app.sessions() as session:
            grants = await members.role_grants(session, viewer.member.id)
        if not any(role in (Role.OFFICER, Role.ADMIN) for role, _ in grants):
            return site.refusal("pages.not_allowed", viewer.member)
        return viewer

    async def tables_for(viewer: Viewer) -> dict[str, Table]:
        t = site.translator(viewer.member)
        async with site.app.sessions() as session:
            return {table.name: table for table in await _tables(site, session, t, utcnow())}

    async def page(request: Request) -> Response:
        viewer = await officer(request)
        if isinstance(viewer, Response):
            return viewer
        tables = await tables_for(viewer)
        t = site.translator(viewer.member)
        return site.render(
            "dashboard", viewer.member, {"tables": tables, "charts": _charts(t, tables)}
        )

    async def download(request: Request) -> Response:
        viewer = await officer(request)
        if isinstance(viewer, Response):
            return viewer
        table = (await tables_for(viewer)).get(request.path_params["table"])
        if table is None:
            return site.refusal("pages.not_found", viewer.member, 404)
        text = io.StringIO()
        text.write("\ufeff")  # so that Excel reads the Chinese text as UTF-8
        write_rows(text, [table.header, *table.rows])
        return Response(
            text.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={**HEADERS, "Content-Disposition": f'attachment; filename="{table.name}.csv"'},
        )

    async def sign_in_form(request: Request) -> Response:
        return site.render("signin", None)

    async def sign_in(request: Request) -> Response:
        if not site.same_site(request):
            return site.refusal("pages.bad_form")
        code = str((await request.form()).get("code") or "")
        now = utcnow()
        async with site.app.sessions() as session, session.begin():
            member_id = await web_signin.use_code(session, site.app.settings.key_dir, code, now)
        if member_id is None:
            return site.render("signin", None, {"error": True}, 403)
        response = RedirectResponse("/w/dashboard", 303, headers=HEADERS)
        site.set_session(response, member_id, now)
        return response

    return [
        Route("/signin", sign_in_form),
        Route("/signin", sign_in, methods=["POST"]),
        Route("/dashboard", page),
        Route("/dashboard/{table}.csv", download),
    ]
