"""The webhook app for ``unionbot serve``: ``/healthz``, ``/metrics``, every channel's
endpoints and the web pages under ``/w`` (:mod:`bot.pages`)."""

from __future__ import annotations

import logging

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from bot import metrics
from bot.app import App
from bot.channels.base import ServiceChannel
from bot.pages import create_pages

log = logging.getLogger(__name__)


def create_web_app(app: App, channels: list[ServiceChannel]) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        """Up when the database answers; load balancers poll this. Anyone can reach it,
        so it says only ``ok`` or ``unavailable``: the reason (a database error names
        hosts, users and SQL) goes to the log."""
        try:
            async with app.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as error:
            log.warning("health check: database unavailable (%s)", type(error).__name__)
            return JSONResponse({"status": "unavailable"}, 503)
        return JSONResponse({"status": "ok"})

    async def metrics_page(request: Request) -> Response:
        """Prometheus text format; scrape each process directly, not through nginx."""
        return Response(await metrics.exposition(app.engine), media_type=metrics.CONTENT_TYPE)

    routes = [
        Route("/healthz", healthz),
        Route("/metrics", metrics_page),
        Mount("/w", app=create_pages(app)),
        *(r for c in channels for r in c.routes()),
    ]
    return Starlette(routes=routes)
