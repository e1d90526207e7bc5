"""What every page shares: who is viewing (the session cookie), rendering a template in the
viewer's language with the security headers, and the page for a bad or expired link.

Every response of ``/w`` carries a Content-Security-Policy that allows only the bot's own
scripts, styles and images (no CDN, no inline script), ``Referrer-Policy: no-referrer``
(a link's token never travels to another site) and ``Cache-Control: no-store`` (a shared
phone's back button or a proxy keeps nothing).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bot import web_links
from bot.app import App
from bot.i18n import Translator
from bot.pages.feed import MeetingFeed
from storage.models import Member
from storage.types import utcnow

HERE = Path(__file__).resolve().parent
COOKIE = "ub_session"
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Viewer:
    """The member a request is from, with their session cookie (which binds form tokens)."""

    member: Member
    session: str
    expires_at: datetime


class Site:
    """The pages' shared parts, built once per web app."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.feed = MeetingFeed(app.sessions)
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            enable_async=False,
        )

    def translator(self, member: Member | None) -> Translator:
        language = member.language if member else self.app.settings.default_language
        return self.app.dispatcher.translations[language]

    async def viewer(self, request: Request) -> Viewer | None:
        """The member whose session cookie this is, if it is ours and current."""
        token = request.cookies.get(COOKIE, "")
        try:
            claims = web_links.read(self.app.settings.key_dir, token, web_links.SESSION, utcnow())
        except web_links.BadLink:
            return None
        async with self.app.sessions() as session:
            member = await session.get(Member, claims.member_id)
        return Viewer(member, token, claims.expires_at) if member else None

    def render(
        self,
        name: str,
        member: Member | None,
        values: dict[str, Any] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        t = self.translator(member)
        html = self.templates.get_template(f"{name}.html").render(
            t=t, lang=t.language.replace("_", "-"), **(values or {})
        )
        return HTMLResponse(html, status, headers=HEADERS)

    def refusal(self, msgid: str, member: Member | None = None, status: int = 403) -> HTMLResponse:
        """A clear page instead of the one asked for: expired link, forged link, not allowed."""
        return self.render("refused", member, {"message": msgid}, status)

    def csrf(self, viewer: Viewer) -> str:
        return web_links.csrf_token(self.app.settings.key_dir, viewer.session)

    async def form_ok(self, request: Request, viewer: Viewer) -> bool:
        """A form post carries the token bound to this viewer's cookie and, where the browser
        says (``Sec-Fetch-Site``; ``Origin`` is ``null`` under ``no-referrer``), comes from
        this site."""
        if not self.same_site(request):
            return False
        form = await request.form()
        given = form.get("csrf")
        return isinstance(given, str) and web_links.csrf_ok(
            self.app.settings.key_dir, viewer.session, given
        )

    @staticmethod
    def same_site(request: Request) -> bool:
        """Not sent by another site's page, where the browser says so."""
        return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")

    def set_session(self, response: Response, member_id: int, now: datetime) -> None:
        """Start the page session of a member whose link or sign-in code was good."""
        settings = self.app.settings
        response.set_cookie(
            COOKIE,
            web_links.session_token(settings, member_id, now),
            max_age=settings.web_session_hours * 3600,
            path="/w",
            secure=(settings.web_url or "").startswith("https://"),
            httponly=True,
            samesite="lax",
        )


OPEN_PATH = re.compile(r"(/w/open/)[^\s?\"]+")


class RedactLinks(logging.Filter):
    """Access-log lines show ``/w/open/…`` without the token: a log is no place for a key."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                OPEN_PATH.sub(r"\1…", a) if isinstance(a, str) else a for a in record.args
            )
        return True
