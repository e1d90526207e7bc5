"""The live meeting page (围观): the transcript so far, new statements pushed within a second
by server-sent events, the session's step, and the suggestion box.

Whoever may read the meeting in chat may watch it here (:func:`storage.meeting.may_watch`,
asked again on every request and every reconnection); a follower of a running session may
also suggest, into the same box as ``/suggest`` (the chair sees web suggestions without the
name, as in chat during the meeting).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from bot.i18n import Translator
from bot.pages.site import HEADERS, Site, Viewer
from handlers.bargaining import progress
from handlers.meeting import statement_text
from storage import bargaining, meeting
from storage.bargaining import FINISHED
from storage.models.bargaining import BargainingSession, MeetingStatement
from storage.suggestions import suggest
from storage.types import utcnow

KEEP_ALIVE_SECONDS = 15.0
"""A comment line this often keeps proxies and in-app browsers from closing a quiet stream."""
SUGGESTION_LIMIT = 2000


def _event(name: str, data: dict[str, object], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _statement(t: Translator, statement: MeetingStatement) -> str:
    return _event(
        "statement", {"seq": statement.seq, "text": statement_text(t, statement)}, statement.seq
    )


def _meeting_state(t: Translator, meeting_open: bool) -> str:
    return t("pages.meeting.open" if meeting_open else "pages.meeting.not_open")


def _state(t: Translator, step: int, meeting_open: bool) -> str:
    return _event(
        "state",
        {
            "step": progress(t, step),
            "meeting": _meeting_state(t, meeting_open),
        },
    )


def routes(site: Site) -> list[Route]:
    async def watched(request: Request) -> tuple[Viewer, BargainingSession] | Response:
        viewer = await site.viewer(request)
        if viewer is None:
            return site.refusal("pages.no_session")
        async with site.app.sessions() as session:
            bs = await session.get(BargainingSession, int(request.path_params["session_id"]))
            if bs is None or not await meeting.may_watch(session, viewer.member, bs):
                return site.refusal("pages.not_allowed", viewer.member)
        return viewer, bs

    async def page(request: Request) -> Response:
        found = await watched(request)
        if isinstance(found, Response):
            return found
        viewer, bs = found
        t = site.translator(viewer.member)
        async with site.app.sessions() as session:
            statements = await meeting.statements_after(session, bs.id, 0)
            followers = await bargaining.follower_ids(session, bs.id)
        return site.render(
            "meeting",
            viewer.member,
            {
                "bs": bs,
                "step": progress(t, bs.step),
                "meeting": t(
                    "pages.meeting.open"
                    if meeting.meeting_is_open(bs)
                    else "pages.meeting.not_open"
                ),
                "statements": [(s.seq, statement_text(t, s)) for s in statements],
                "last": statements[-1].seq if statements else 0,
                "may_suggest": viewer.member.id in followers and bs.step < FINISHED,
                "csrf": site.csrf(viewer),
                "sent": request.query_params.get("sent") == "1",
            },
        )

    async def events(request: Request) -> Response:
        found = await watched(request)
        if isinstance(found, Response):
            return found
        viewer, bs = found
        t = site.translator(viewer.member)
        given = request.headers.get("last-event-id") or request.query_params.get("after", "")
        after = int(given) if given.isascii() and given.isdigit() else 0
        return StreamingResponse(
            _stream(site, t, bs.id, after, viewer.expires_at),
            media_type="text/event-stream",
            headers={**HEADERS, "X-Accel-Buffering": "no"},
        )

    async def post_suggestion(request: Request) -> Response:
        found = await watched(request)
        if isinstance(found, Response):
            return found
        viewer, bs = found
        if not await site.form_ok(request, viewer):
            return site.refusal("pages.bad_form", viewer.member)
        text = str((await request.form()).get("text") or "").strip()
        if not text:
            return RedirectResponse(f"/w/meeting/{bs.id}", 303, headers=HEADERS)
        async with site.app.sessions() as session, session.begin():
            if viewer.member.id not in await bargaining.follower_ids(session, bs.id):
                return site.refusal("pages.not_following", viewer.member)
            await suggest(session, bs.id, viewer.member.id, text[:SUGGESTION_LIMIT], True, utcnow())
        return RedirectResponse(f"/w/meeting/{bs.id}?sent=1", 303, headers=HEADERS)

    return [
        Route("/meeting/{session_id:int}", page),
        Route("/meeting/{session_id:int}/events", events),
        Route("/meeting/{session_id:int}/suggest", post_suggestion, methods=["POST"]),
    ]


async def _stream(
    site: Site, t: Translator, session_id: int, after: int, until: datetime
) -> AsyncIterator[str]:
    """The statements after ``after``, then each change as the feed sees it, until the
    viewer leaves (Starlette cancels this on disconnect), falls too far behind, or their
    session ends (``until``): then the page says so, and the browser's reconnection is
    refused."""
    yield "retry: 2000\n\n"
    async with site.feed.watch(session_id) as changes:
        async with site.app.sessions() as session:
            missed = await meeting.statements_after(session, session_id, after)
        for statement in missed:
            yield _statement(t, statement)
        sent = missed[-1].seq if missed else after
        while True:
            left = (until - utcnow()).total_seconds()
            if left <= 0:
                yield _event("expired", {"text": t("pages.session_expired")})
                return
            try:
                change = await asyncio.wait_for(changes.get(), min(KEEP_ALIVE_SECONDS, left))
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if change is None:
                return
            rendered = change.rendered.get(t.language)
            if rendered is None:
                rendered = [_statement(t, statement) for statement in change.statements]
                rendered.append(_state(t, change.step, change.meeting_open))
                change.rendered[t.language] = rendered
            fresh = [
                text
                for statement, text in zip(change.statements, rendered, strict=False)
                if statement.seq > sent
            ]
            if change.statements:
                sent = max(sent, change.statements[-1].seq)
            yield "".join([*fresh, rendered[-1]])
