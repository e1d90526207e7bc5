"""Personal, signed, short-lived links from chat to the bot's web pages.

A link is ``{UNIONBOT_WEB_URL}/w/open/<token>``; the token is ``<payload>.<signature>``
(both base64url, no padding): compact JSON naming the member, the page and an expiry, and
an HMAC-SHA256 over it under a key kept in ``UNIONBOT_KEY_DIR`` (``web-links.key``, 0600,
created on first use). Opening a link trades it for a session cookie of the same shape
(kind ``session``), so the token leaves the address bar and the access log at once; the
kinds are signed, so a link can never be replayed as a cookie or the other way round.

The member id is the only personal datum in a token, and it is the bot's own number, not a
channel id or name. What a page shows is decided on every request from the database, by
what that member may see in chat right now; the token only says who is asking.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.context import Context
from storage.web_signin import web_key

LINK = "link"
SESSION = "session"


class BadLink(Exception):
    """A token we did not sign, or one whose time is up; ``reason`` is ``forged`` or
    ``expired``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    kind: str
    member_id: int
    page: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _mac(key_dir: Path, data: bytes) -> bytes:
    return hmac.new(web_key(key_dir), data, hashlib.sha256).digest()


def sign(key_dir: Path, claims: Claims) -> str:
    body = {
        "k": claims.kind,
        "m": claims.member_id,
        "p": claims.page,
        "e": int(claims.expires_at.timestamp()),
    }
    payload = json.dumps(body, separators=(",", ":")).encode("ascii")
    return f"{_b64(payload)}.{_b64(_mac(key_dir, payload))}"


def read(key_dir: Path, token: str, kind: str, now: datetime) -> Claims:
    """The claims of a token of ``kind`` we signed that has not expired; else :class:`BadLink`."""
    encoded, _, signature = token.partition(".")
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    except (binascii.Error, ValueError):
        raise BadLink("forged") from None
    if not hmac.compare_digest(given, _mac(key_dir, payload)):
        raise BadLink("forged")
    try:
        body = json.loads(payload)
        claims = Claims(
            kind=str(body["k"]),
            member_id=int(body["m"]),
            page=str(body["p"]),
            expires_at=datetime.fromtimestamp(int(body["e"]), UTC),
        )
    except (ValueError, KeyError, TypeError):
        raise BadLink("forged") from None
    if claims.kind != kind:
        raise BadLink("forged")
    if claims.expires_at <= now:
        raise BadLink("expired")
    return claims


def page_link(settings: Settings, member_id: int, page: str, now: datetime) -> str | None:
    """The personal link to ``page`` (``meeting/7``, ``ballot/3``) for one member, valid for
    ``UNIONBOT_WEB_LINK_MINUTES``; None when the pages have no public address."""
    if settings.web_url is None:
        return None
    expires = now + timedelta(minutes=settings.web_link_minutes)
    token = sign(settings.key_dir, Claims(LINK, member_id, page, expires))
    return f"{settings.web_url}/w/open/{token}"


def session_token(settings: Settings, member_id: int, now: datetime) -> str:
    """The cookie a link or a sign-in is traded for, valid ``UNIONBOT_WEB_SESSION_HOURS``;
    it names no page, since each page asks the database what its viewer may see."""
    expires = now + timedelta(hours=settings.web_session_hours)
    return sign(settings.key_dir, Claims(SESSION, member_id, "", expires))


def csrf_token(key_dir: Path, session: str) -> str:
    """The form token bound to one session cookie: a page of another site cannot know it."""
    return _b64(_mac(key_dir, b"csrf:" + session.encode("ascii", "replace")))


def csrf_ok(key_dir: Path, session: str, given: str) -> bool:
    return hmac.compare_digest(csrf_token(key_dir, session), given)


def offer_page(ctx: Context, page: str, text_id: str, button_id: str) -> None:
    """Reply with a fresh personal link to ``page`` for the member who asked, or say the
    pages are unavailable; the caller has already checked that the member may see it."""
    from bot.messages import Button, rows
    from storage.types import utcnow

    link = page_link(ctx.settings, ctx.member.id, page, utcnow())
    if link is None:
        ctx.reply(ctx.t("pages.unavailable"))
        return
    ctx.reply(
        ctx.t(text_id, minutes=ctx.settings.web_link_minutes),
        rows([Button(ctx.t(button_id), url=link)]),
    )
