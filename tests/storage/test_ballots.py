"""Secret ballots: the schema keeps voters and papers apart, one vote per member, the
closing time, the tally with receipts, and the workers' congress rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from bot.app import App
from bot.settings import Settings
from storage import ballots
from storage.bargaining import Refused, missing_for_step, start_session
from storage.models import Enterprise, Member, RoleGrant
from storage.models.bargaining import (
    Ballot,
    BallotPaper,
    BallotVoter,
    BargainingSession,
    Representative,
)
from storage.types import utcnow


async def test_nothing_in_the_schema_links_a_paper_to_its_voter(app: App) -> None:
    def look(connection: object) -> None:
        schema = inspect(connection)
        papers = {c["name"]: c for c in schema.get_columns("ballot_papers")}
        voters = {c["name"]: c for c in schema.get_columns("ballot_voters")}
        assert set(papers) == {"id", "ballot_id", "sealed"}
        assert set(voters) == {"ballot_id", "member_id"}
        assert set(papers) & set(voters) == {"ballot_id"}
        referred = {fk["referred_table"] for fk in schema.get_foreign_keys("ballot_papers")}
        assert referred == {"ballots"}
        referred = {fk["referred_table"] for fk in schema.get_foreign_keys("ballot_voters")}
        assert referred == {"ballots", "members"}
        for table in ("ballot_papers", "ballot_voters"):
            kinds = {str(c["type"]).upper() for c in schema.get_columns(table)}
            assert not any("TIME" in kind or "DATE" in kind for kind in kinds), table
        assert schema.get_pk_constraint("ballot_voters")["constrained_columns"] == [
            "ballot_id",
            "member_id",
        ]

    async with app.engine.connect() as connection:
        await connection.run_sync(look)
        if connection.dialect.name == "sqlite":
            tables = await connection.execute(
                text(
                    "SELECT sql FROM sqlite_master WHERE name IN ('ballot_papers', 'ballot_voters')"
                )
            )
            assert all("WITHOUT ROWID" in sql for (sql,) in tables)  # no hidden insertion order


async def workers(app: App, count: int) -> tuple[int, list[int]]:
    """An enterprise with a chair and ``count`` workers; returns its id and the workers'."""
    async with app.sessions() as session, session.begin():
        enterprise = Enterprise(name="永康市众诚五金制品有限公司", city="永康")
        people = [Member(display_name=f"工人{n}", language="zh_CN") for n in range(count)]
        session.add(enterprise)
        await session.flush()
        for person in people:
            person.enterprise_id = enterprise.id
            person.enterprise_status = "verified"
        chair = Member(
            display_name="周主席",
            language="zh_CN",
            enterprise_id=enterprise.id,
            enterprise_status="verified",
        )
        session.add_all([*people, chair])
        await session.flush()
        session.add(RoleGrant(member_id=chair.id, role="chair", scope=str(enterprise.id)))
        return enterprise.id, [p.id for p in people]


async def session_at(app: App, enterprise_id: int, step: int, representatives: list[int]) -> int:
    async with app.sessions() as session, session.begin():
        bs = await start_session(
            session, enterprise_id, 1, "wage", "2027 年度工资集体协商", 2027, utcnow()
        )
        bs.step = step
        session.add_all(Representative(session_id=bs.id, member_id=m) for m in representatives)
        return bs.id


async def congress(app: App, session_id: int, quorum: str = "2/3", majority: str = "1/2") -> int:
    async with app.sessions() as session, session.begin():
        bs = await session.get(BargainingSession, session_id)
        assert bs is not None
        now = utcnow()
        ballot = await ballots.open_congress(
            session, bs, now + timedelta(hours=1), quorum, majority, now, app.settings.key_dir
        )
        return ballot.id


async def vote(app: App, ballot_id: int, member_id: int, *choices: str) -> str:
    async with app.sessions() as session, session.begin():
        ballot = await session.get(Ballot, ballot_id)
        assert ballot is not None
        receipt, _ = await ballots.cast_vote(session, ballot, member_id, list(choices), utcnow())
        return receipt


async def close(app: App, ballot_id: int, late: bool = True) -> Ballot:
    async with app.sessions() as session, session.begin():
        ballot = await session.get(Ballot, ballot_id)
        assert ballot is not None
        when = ballot.closes_at if late else utcnow()
        return await ballots.close_ballot(session, ballot, when, app.settings.key_dir)


async def test_the_voter_register_takes_one_row_per_member_and_ballot(app: App) -> None:
    enterprise, people = await workers(app, 3)
    session_id = await session_at(app, enterprise, 7, people)
    ballot = await congress(app, session_id)
    await vote(app, ballot, people[0], "for")
    with pytest.raises(Refused) as refused:
        await vote(app, ballot, people[0], "against")
    assert refused.value.msgid == "ballots.already_voted"
    with pytest.raises(IntegrityError):
        async with app.sessions() as session, session.begin():
            session.add(BallotVoter(ballot_id=ballot, member_id=people[0]))
    async with app.sessions() as session:
        assert len((await session.scalars(select(BallotPaper))).all()) == 1


async def test_papers_are_sealed_and_the_tally_lists_sorted_receipts_without_choices(
    app: App,
) -> None:
    enterprise, people = await workers(app, 3)
    session_id = await session_at(app, enterprise, 7, people)
    ballot = await congress(app, session_id)
    receipts = [
        await vote(app, ballot, m, c)
        for m, c in zip(people, ["for", "for", "abstain"], strict=True)
    ]
    async with app.sessions() as session:
        ids = list(await session.scalars(select(BallotPaper.id)))
    assert all(len(i) == 32 for i in ids) and len(set(receipts)) == 3
    closed = await close(app, ballot)
    assert closed.passed is True
    assert closed.result is not None
    assert closed.result["receipts"] == sorted(receipts)
    assert "papers" not in closed.result
    assert closed.result["counts"] == {"for": 2, "against": 0, "abstain": 1}
    async with app.sessions() as session:
        assert (await session.scalars(select(BallotPaper))).all() == []


async def test_votes_after_the_closing_time_and_early_closing_are_refused(app: App) -> None:
    enterprise, people = await workers(app, 2)
    session_id = await session_at(app, enterprise, 7, people)
    ballot = await congress(app, session_id)
    with pytest.raises(Refused) as early:
        await close(app, ballot, late=False)
    assert early.value.msgid == "ballots.not_due"
    async with app.sessions() as session, session.begin():
        paper = await session.get(Ballot, ballot)
        assert paper is not None
        with pytest.raises(Refused) as late:
            await ballots.cast_vote(session, paper, people[0], ["for"], paper.closes_at)
        assert late.value.msgid == "ballots.closed"
    await close(app, ballot)
    with pytest.raises(Refused) as twice:
        await close(app, ballot)
    assert twice.value.msgid == "ballots.already_closed"


async def test_only_representatives_vote_in_the_congress_with_a_valid_choice(app: App) -> None:
    enterprise, people = await workers(app, 3)
    session_id = await session_at(app, enterprise, 7, people[:2])
    ballot = await congress(app, session_id)
    with pytest.raises(Refused) as outsider:
        await vote(app, ballot, people[2], "for")
    assert outsider.value.msgid == "ballots.not_eligible"
    with pytest.raises(Refused) as nonsense:
        await vote(app, ballot, people[0], "maybe")
    assert nonsense.value.msgid == "ballots.bad_choice"


@pytest.mark.parametrize(
    ("voted", "in_favour", "representatives", "passes"),
    [
        (3, 2, 3, True),  # all voted, 2 of 3 for
        (2, 2, 3, True),  # exactly two thirds voted, both for
        (6, 6, 10, False),  # 6 of 10 voted: under two thirds
        (7, 5, 10, False),  # 5 of 10 for is half, not more than half
        (7, 6, 10, True),
        (10, 5, 10, False),
        (0, 0, 0, False),
    ],
)
def test_the_congress_rule(voted: int, in_favour: int, representatives: int, passes: bool) -> None:
    assert ballots.congress_passes(voted, in_favour, representatives, "2/3", "1/2") is passes


def test_the_congress_rule_is_configurable() -> None:
    assert ballots.congress_passes(5, 4, 10, "1/2", "1/3") is True
    assert ballots.congress_passes(5, 4, 10, "2/3", "1/2") is False
    settings = Settings(congress_quorum="3/4", _env_file=None)  # type: ignore[call-arg]
    assert (settings.congress_quorum, settings.congress_majority) == ("3/4", "1/2")
    for bad in ("3/2", "0", "half"):
        with pytest.raises(ValidationError):
            Settings(congress_majority=bad, _env_file=None)  # type: ignore[call-arg]


async def test_a_failed_congress_keeps_step_seven_open_and_another_vote_may_follow(
    app: App,
) -> None:
    enterprise, people = await workers(app, 3)
    session_id = await session_at(app, enterprise, 7, people)
    ballot = await congress(app, session_id)
    await vote(app, ballot, people[0], "for")
    await vote(app, ballot, people[1], "against")
    assert (await close(app, ballot)).passed is False
    async with app.sessions() as session:
        bs = await session.get(BargainingSession, session_id)
        assert bs is not None
        assert await missing_for_step(session, bs) == "bargaining.needs.congress"
    assert await congress(app, session_id) != ballot


async def test_an_election_takes_up_to_n_distinct_candidates_and_elects_the_most_voted(
    app: App,
) -> None:
    enterprise, people = await workers(app, 4)
    session_id = await session_at(app, enterprise, 2, [])
    async with app.sessions() as session, session.begin():
        bs = await session.get(BargainingSession, session_id)
        assert bs is not None
        now = utcnow()
        later, keys = now + timedelta(hours=1), app.settings.key_dir
        with pytest.raises(Refused):
            await ballots.open_election(session, bs, 4, later, people[:3], now, keys)
        with pytest.raises(Refused):
            await ballots.open_election(session, bs, 1, later, [99999], now, keys)
        ballot = (await ballots.open_election(session, bs, 2, later, people[:3], now, keys)).id
    for choices in (["1", "2", "3"], ["4"], ["1", "1"], ["x"], []):
        with pytest.raises(Refused) as refused:
            await vote(app, ballot, people[3], *choices)
        assert refused.value.msgid == "ballots.bad_election_choice"
    await vote(app, ballot, people[0], "1", "3")
    await vote(app, ballot, people[1], "3")
    await vote(app, ballot, people[2], "2")
    closed = await close(app, ballot)
    assert closed.result is not None
    assert closed.result["winners"] == ["工人2", "工人0"]
    assert closed.eligible == 5
    async with app.sessions() as session:
        elected = set(
            await session.scalars(
                select(Representative.member_id).where(Representative.session_id == session_id)
            )
        )
    assert elected == {people[0], people[2]}


async def test_ballots_belong_to_their_steps(app: App) -> None:
    enterprise, people = await workers(app, 2)
    session_id = await session_at(app, enterprise, 3, people)
    async with app.sessions() as session, session.begin():
        bs = await session.get(BargainingSession, session_id)
        assert bs is not None
        now = utcnow()
        later = now + timedelta(hours=1)
        keys = app.settings.key_dir
        with pytest.raises(Refused) as election:
            await ballots.open_election(session, bs, 1, later, people, now, keys)
        assert election.value.msgid == "ballots.election_not_now"
        with pytest.raises(Refused) as vote_now:
            await ballots.open_congress(session, bs, later, "2/3", "1/2", now, keys)
        assert vote_now.value.msgid == "ballots.congress_not_now"
        bs.step = 7
        await session.execute(
            Representative.__table__.delete().where(Representative.session_id == session_id)
        )
        with pytest.raises(Refused) as nobody:
            await ballots.open_congress(session, bs, later, "2/3", "1/2", now, keys)
        assert nobody.value.msgid == "ballots.no_representatives"
