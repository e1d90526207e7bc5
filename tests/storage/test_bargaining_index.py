"""The bargaining index is computed for a whole page of enterprises in a few grouped
queries; each share counts what the README says, and the officer pages through them."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from storage.bargaining_index import bargaining_indexes, indexed_count
from storage.models import Enterprise, Member, Role
from storage.models.bargaining import (
    Ballot,
    BargainingSession,
    Follower,
    StepTransition,
    Suggestion,
)
from storage.types import utcnow
from tests.conftest import Chat
from tests.singles import ensure_member


async def add_enterprise(app: App, name: str, members: int) -> tuple[int, list[int]]:
    async with app.sessions() as session, session.begin():
        enterprise = Enterprise(name=name, city="永康")
        session.add(enterprise)
        await session.flush()
        people = [
            Member(
                display_name=f"{name}{n}",
                language="zh_CN",
                enterprise_id=enterprise.id,
                enterprise_status="verified",
            )
            for n in range(members)
        ]
        session.add(Member(display_name="asked", language="zh_CN", enterprise_id=enterprise.id))
        session.add_all(people)
        await session.flush()
        return enterprise.id, [p.id for p in people]


async def add_session(
    app: App,
    enterprise_id: int,
    followers: list[int],
    ballots: list[tuple[int, dict[str, int] | None, bool]],
    suggestions: list[str],
    closes: list[bool | None],
) -> None:
    """A session with followers, ballots ``(eligible, result, closed)``, suggestions by
    status and closed steps by ``on_time``."""
    now = utcnow()
    async with app.sessions() as session, session.begin():
        bs = BargainingSession(
            enterprise_id=enterprise_id,
            kind="wage",
            title="工资协商",
            year=2027,
            code=f"C{enterprise_id}{len(followers)}{len(closes)}",
        )
        session.add(bs)
        await session.flush()
        session.add_all(Follower(session_id=bs.id, member_id=m) for m in followers)
        session.add_all(
            Ballot(
                session_id=bs.id,
                kind="election",
                closes_at=now + timedelta(hours=1),
                eligible=eligible,
                result=result,
                closed_at=now if closed else None,
            )
            for eligible, result, closed in ballots
        )
        session.add_all(
            Suggestion(session_id=bs.id, text="建议", status=status) for status in suggestions
        )
        session.add(StepTransition(session_id=bs.id, step=1, action="start"))
        session.add_all(
            StepTransition(session_id=bs.id, step=1, action="close", on_time=on_time)
            for on_time in closes
        )


async def test_each_share_of_the_index_over_all_sessions(app: App) -> None:
    metal, people = await add_enterprise(app, "A Metal", 4)
    await add_session(
        app,
        metal,
        followers=people[:2],
        ballots=[(4, {"voted": 3}, True)],
        suggestions=["adopted", "new"],
        closes=[True, False],
    )
    await add_session(
        app,
        metal,
        followers=people,
        ballots=[(2, None, True), (10, {"voted": 10}, False)],
        suggestions=["answered", "adopted"],
        closes=[None, True],
    )
    empty, _ = await add_enterprise(app, "B Empty", 0)
    await add_session(app, empty, followers=[], ballots=[], suggestions=[], closes=[])
    await add_enterprise(app, "C Never", 3)
    async with app.sessions() as session:
        assert await indexed_count(session) == 2
        first, second = await bargaining_indexes(session, 0, 20)
        assert await bargaining_indexes(session, 1, 1) == [second]
    assert (first.enterprise, first.sessions) == ("A Metal", 2)
    assert first.participation == 0.75, "mean over sessions of followers / members"
    assert first.turnout == 0.5, "votes cast / eligible over closed ballots only"
    assert (first.adopted, first.on_time) == (0.5, 0.5)
    assert second.enterprise == "B Empty" and second.sessions == 1
    assert second.value == 0, "nothing to divide by counts as 0"


async def test_officers_page_through_the_index(app: App) -> None:
    await ensure_member(app, "officer", Role.OFFICER)
    for n in range(23):
        enterprise, _ = await add_enterprise(app, f"Enterprise {n:02d}", 1)
        await add_session(app, enterprise, followers=[], ballots=[], suggestions=[], closes=[])
    chat = Chat(app, "officer")
    first = (await chat.say("/bg_index"))[0]
    assert first["text"].count("（1 次协商）") == 20 and "第 1/2 页" in first["text"]
    assert "Enterprise 00" in first["text"] and "Enterprise 20" not in first["text"]
    second = (await chat.say({"press": "bgi:2"}))[0]
    assert second["text"].count("（1 次协商）") == 3 and "Enterprise 22" in second["text"]
    assert [b["payload"] for row in second["buttons"] for b in row] == ["bgi:1"]
    assert "工会干部" in await Chat(app, "xiaozhang").text_of({"press": "bgi:2"})
