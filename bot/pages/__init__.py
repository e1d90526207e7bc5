"""The bot's web pages, where a chat is too small: the live meeting (围观), a ballot's result
and the officials' dashboard, served under ``/w`` by ``unionbot serve``.

Chat is the door: a member gets a personal, signed, short-lived link from the bot
(:mod:`bot.web_links`); opening it trades the link for a session cookie and shows the page.
Templates are Jinja2 with autoescaping, every asset is served from ``/w/static``, and charts
are SVG drawn on the server, so nothing is fetched from another site.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot import web_links
from bot.app import App
from bot.pages import ballot, dashboard, meeting
from bot.pages.site import HEADERS, HERE, RedactLinks, Site
from storage.types import utcnow

BAD_LINK = {"expired": "pages.link_expired", "forged": "pages.link_forged"}


def create_pages(app: App) -> Starlette:
    site = Site(app)
    logging.getLogger("uvicorn").getChild("access").addFilter(RedactLinks())

    async def open_link(request: Request) -> Response:
        """A link from chat: checked, traded for a session cookie, then the page it names."""
        now = utcnow()
        try:
            claims = web_links.read(
                app.settings.key_dir, request.path_params["token"], web_links.LINK, now
            )
        except web_links.BadLink as bad:
            return site.refusal(BAD_LINK[bad.reason], status=403)
        response = RedirectResponse(f"/w/{claims.page}", 303, headers=HEADERS)
        site.set_session(response, claims.member_id, now)
        return response

    return Starlette(
        routes=[
            Route("/open/{token}", open_link),
            *meeting.routes(site),
            *dashboard.routes(site),
            *ballot.routes(site),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]
    )
