"""A route that shows anything personal is private: in a group chat it only points the
member to a private chat. The table below names every registered route and whether it
shows member data (the member's own or anyone's), so a new route cannot be added without
deciding; then a member's check-in codes, vote receipt, model-worker status and waiting
messages are asked for in a group and stay out of it."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from bot.app import App
from bot.messages import Incoming, Location, Outgoing
from bot.router import Route
from storage.core_seed import CONSOLE
from storage.models.bargaining import BallotVoter
from storage.models.events import Event
from tests.conftest import Chat, payloads
from tests.handlers.test_bargaining import as_, load_demo, member_id, running_session, to
from unionbot.app import service_routers

SHOWS_MEMBER_DATA = {
    # core: the same for everyone (the menu differs only by role)
    "/menu": False,
    "/start": False,
    "/help": False,
    "/lang": False,
    "/cancel": False,
    "button menu": False,
    "button help": False,
    "button lang": False,
    # invites: the answer says only which role the code gave
    "link invite": False,
    # account: the member's real name, town, enterprise; link codes
    "/me": True,
    "/link": True,
    "button me": True,
    # membership: requests name the member, their real name and town; the roster numbers
    "/requests": True,
    "/approve": True,
    "/refuse": True,
    "/roster": True,
    "button mr": True,
    # notices: which notices a member sees tells their town, enterprise, events, status
    "/notices": True,
    "button np": True,
    "button n": True,
    "button nrem": True,
    "/notice": False,
    "button ncompose": False,
    "/broadcasts": False,
    "button bc": False,
    "/settings": True,
    "button set": True,
    # singles
    "/profile": True,
    "/forget": True,
    "button prof": True,
    "button forget": True,
    "/events": False,
    "button ev": True,  # the list, as the member's sign-ups see it
    "button ev:p": True,
    "button ev:s": True,  # signing up answers with the check-in code
    "button ev:c": True,
    "/myevents": True,
    "/newevent": False,
    "/participants": True,
    "/checkin": True,
    "button evp": True,
    "/candidates": True,
    "/pairs": True,
    "/introduce": True,
    "/block": True,
    "/report": True,
    "/outcome": True,
    "/gifts": True,
    "/mmstats": True,
    "/viewlog": True,
    "button mm:list": True,
    "button mm:s": True,
    "button mm:p": True,
    "button intro": True,
    # benefits: every result says whether the member is a verified model worker
    "/benefits": True,
    "button bn": True,
    "button bnc": True,
    "button bny": True,
    "button bns": True,
    "button bnl": True,
    "button bnu": True,
    "button bno": True,
    "button bnb": True,
    "/claim": True,
    "/code": True,
    "/verify": True,
    "/uses": True,
    "/mwfind": True,
    "/mwrevoke": True,
    "button mw": True,
    "button mwclaim": True,
    "button mwcode": True,
    "button mwsvc": True,
    "button mwuses": True,
    # bargaining: the session a member follows, who is who, votes and suggestions
    "/bargain_new": False,
    "/bargain": True,
    "/next": False,
    "/offer": False,
    "/minutes": False,
    "/resolution": False,
    "/bg_members": True,
    "/employer": False,
    "/accept_offer": False,
    "/join": True,
    "/history": True,
    "button bargain": True,
    "button bg:next": False,
    "button bgok": False,
    "link bg": True,
    "/bg_all": False,
    "/bg_review": False,
    "/bg_reopen": False,
    "/bg_log": True,
    "/bg_index": False,
    "button bgi": False,
    "/meeting_at": False,
    "/meeting_open": False,
    "/meeting_close": False,
    "/transcript": True,
    "button tr": True,
    "button wm": True,  # a personal link to the live meeting page
    "/dashboard": True,  # a one-time sign-in code
    "button wb": True,  # a personal link to a ballot's result page
    "/election": False,
    "/congress": False,
    "/vote": True,
    "/close_ballot": False,  # the tally names receipts, never voters, and goes to all
    "button vote": True,
    "button v": True,  # a vote answers with its receipt
    "/receipt": True,  # whether the member's own paper was counted
    "/suggest": True,
    "/suggest_anon": True,
    "/suggestions": True,
    "/adopt": True,
    "/answer": True,
    "button sg": True,
    # an officer takes a role back: names the member
    "/revoke": True,
    # WeChat's inbox: the member's waiting messages
    "/inbox": True,
    # a shared place is where the member is; the answer names their nearest benefits
    "location": True,
}


def registered_routes() -> dict[str, Route]:
    routes: dict[str, Route] = {}
    for router in service_routers():
        routes |= {f"/{name}": route for name, route in router.commands.items()}
        routes |= {f"button {prefix}": route for prefix, route in router.buttons.items()}
        routes |= {f"link {prefix}": route for prefix, route in router.starts.items()}
        for route in router.locations:
            routes["location"] = route
    return routes


def test_every_route_says_whether_it_shows_member_data() -> None:
    routes = registered_routes()
    assert sorted(routes.keys() - SHOWS_MEMBER_DATA.keys()) == [], "add them to the table"
    assert sorted(SHOWS_MEMBER_DATA.keys() - routes.keys()) == [], "gone: take them out"


def test_every_route_that_shows_member_data_is_private() -> None:
    routes = registered_routes()
    wrong = {name for name, route in routes.items() if route.private != SHOWS_MEMBER_DATA[name]}
    assert sorted(wrong) == []


async def in_group(app: App, name: str, **fields: Any) -> list[Outgoing]:
    """What the bot answers console member ``name`` in a group chat."""
    message = Incoming(CONSOLE, name, "group-1", is_group=True, **fields)
    return await app.dispatcher.handle(message)


def refused(app: App, said: list[Outgoing]) -> bool:
    return [m.text for m in said] == [app.dispatcher.translations["zh_CN"]("input.private_only")]


async def test_check_in_codes_model_worker_status_and_the_inbox_stay_out_of_groups(
    app: App,
) -> None:
    await load_demo(app)
    async with app.sessions() as session:
        market = await session.scalar(select(Event.id).where(Event.title.like("%新春手作市集")))
    signed_up = await Chat(app, "xiaoli").text_of({"press": f"ev:s:{market}"})
    code = re.search(r"签到码：(\w+)", signed_up).group(1)  # type: ignore[union-attr]
    assert code in await Chat(app, "xiaoli").text_of("/myevents")

    for said in (
        await in_group(app, "xiaoli", text="/myevents"),
        await in_group(app, "xiaoli", payload=f"ev:s:{market}"),
        await in_group(app, "laomo", text="/benefits"),
        await in_group(app, "laomo", text="/benefits 医院"),
        await in_group(app, "xiaoli", text="/inbox"),
        await in_group(app, "xiaoli", text="/notices"),
    ):
        assert refused(app, said), said


async def test_a_place_shared_in_a_group_gets_no_nearby_benefits_there(app: App) -> None:
    await load_demo(app)
    assert refused(app, await in_group(app, "laomo", location=Location(30.17, 121.27)))
    said = await app.dispatcher.handle(
        Incoming(CONSOLE, "laomo", "laomo", location=Location(30.17, 121.27))
    )
    assert said and not refused(app, said)


async def test_a_vote_pressed_in_a_group_is_not_cast_and_shows_no_receipt(app: App) -> None:
    chat = Chat(app, "chair")
    _, code = await running_session(app, chat, step=2)
    await as_(chat, "xiaowang", f"/join {code}")
    zhang, wang = await member_id(app, "xiaozhang"), await member_id(app, "xiaowang")
    await chat.say(f"/election 1 24 {zhang} {wang}")
    [invitation] = [m for m in await as_(chat, "xiaowang", "/vote") if m["to"] == "xiaowang"]
    press = payloads(invitation)[0]

    assert refused(app, await in_group(app, "xiaowang", payload=press))
    assert refused(app, await in_group(app, "xiaowang", text="/vote"))
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(BallotVoter)) == 0
    assert "回执码" in to(await as_(chat, "xiaowang", {"press": press}), "xiaowang")
