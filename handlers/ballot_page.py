"""The button under a ballot's tally that gives a personal link to its result page."""

from __future__ import annotations

from dataclasses import dataclass

from bot import web_links
from bot.context import Context
from bot.i18n import N_
from bot.payloads import Payload
from bot.router import Router
from storage import meeting
from storage.models.bargaining import Ballot, BargainingSession

router = Router("ballot_page")


@dataclass(frozen=True)
class ResultsOnTheWeb(Payload, prefix="wb"):
    ballot_id: int


@router.button(ResultsOnTheWeb, private=True)
async def results_on_the_web(ctx: Context, press: ResultsOnTheWeb) -> None:
    ballot = await ctx.session.get(Ballot, press.ballot_id)
    bs = await ctx.session.get(BargainingSession, ballot.session_id) if ballot else None
    if ballot is None or bs is None or not await meeting.may_watch(ctx.session, ctx.member, bs):
        ctx.reply(ctx.t("bargaining.not_following"))
        return
    web_links.offer_page(
        ctx, f"ballot/{ballot.id}", N_("ballots.web_link"), N_("ballots.button.open_web")
    )
