"""A ballot's result page: the totals, a chart, and a box to check one's receipt.

Whoever may follow the session in chat may see it (:func:`storage.meeting.may_watch`).
Before closing it shows only that voting is open. The receipt check answers only whether a
receipt is among those counted: the page never shows which choice a receipt carried, so a
voter cannot be made to prove their vote by showing it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.pages import charts
from bot.pages.site import Site, Viewer
from handlers.ballots import CHOICE_NAMES, result_lines
from storage import ballot_results, meeting
from storage.models.bargaining import Ballot, BargainingSession

RECEIPT_LIMIT = 32


def routes(site: Site) -> list[Route]:
    async def allowed(request: Request) -> tuple[Viewer, Ballot, BargainingSession] | Response:
        viewer = await site.viewer(request)
        if viewer is None:
            return site.refusal("pages.no_session")
        async with site.app.sessions() as session:
            ballot = await session.get(Ballot, int(request.path_params["ballot_id"]))
            bs = await session.get(BargainingSession, ballot.session_id) if ballot else None
            if (
                ballot is None
                or bs is None
                or not await meeting.may_watch(session, viewer.member, bs)
            ):
                return site.refusal("pages.not_allowed", viewer.member)
        return viewer, ballot, bs

    async def show(request: Request, checked: str | None = None) -> Response:
        found = await allowed(request)
        if isinstance(found, Response):
            return found
        viewer, ballot, bs = found
        t = site.translator(viewer.member)
        result = ballot_results.totals(ballot)
        values: dict[str, object] = {"ballot": ballot, "bs": bs, "result": result}
        if result is not None:
            labels = [
                t(CHOICE_NAMES[c]) if ballot.kind == "congress" else c for c, _ in result.counts
            ]
            values |= {
                "summary": result_lines(t, ballot, receipts=False),
                "chart": charts.bars(
                    t("pages.ballot.chart"),
                    [(label, n) for label, (_, n) in zip(labels, result.counts, strict=True)],
                ),
                "csrf": site.csrf(viewer),
            }
        if checked is not None and result is not None:
            values |= {"checked": checked, "counted": checked in result.receipts}
        return site.render("ballot", viewer.member, values)

    async def page(request: Request) -> Response:
        return await show(request)

    async def check(request: Request) -> Response:
        viewer = await site.viewer(request)
        if viewer is None:
            return site.refusal("pages.no_session")
        if not await site.form_ok(request, viewer):
            return site.refusal("pages.bad_form", viewer.member)
        given = str((await request.form()).get("receipt") or "")[:RECEIPT_LIMIT]
        return await show(request, ballot_results.normal_receipt(given))

    return [
        Route("/ballot/{ballot_id:int}", page),
        Route("/ballot/{ballot_id:int}/receipt", check, methods=["POST"]),
    ]
