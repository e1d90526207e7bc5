"""Secret, one-person-one-vote ballots: the representative election and the workers' congress.

Casting a vote writes two rows that share nothing but the ballot: the voter register row
(who voted; its primary key makes a second vote impossible) and the paper (what was voted,
under a random id, with a random receipt code the voter keeps). After closing, the tally
lists every receipt with its choices, so each voter can check their paper was counted as
cast while nobody can tell whose paper is whose.

Closing is :func:`close_ballot`; a scheduled job at ``Ballot.closes_at`` (or the chair, once
that time has passed) calls it, and :func:`handlers.ballots.close_and_publish` pushes the
result to the session's followers.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import member_settings
from storage.bargaining import enterprise_members, representative_ids
from storage.memberships import Status, is_verified
from storage.models import Member
from storage.models.bargaining import (
    Ballot,
    BallotCandidate,
    BallotPaper,
    BallotVoter,
    BargainingSession,
    Representative,
)
from storage.refusals import Refused

CONGRESS_CHOICES = ("for", "against", "abstain")
RECEIPT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
RECEIPT_LENGTH = 8


def parse_fraction(text: str) -> Fraction:
    """``"2/3"`` → 2/3; a share between 0 and 1, as the congress rule settings write it."""
    value = Fraction(text.strip())
    if not 0 < value <= 1:
        raise ValueError("must be a fraction between 0 and 1, such as 2/3")
    return value


def congress_passes(
    voted: int, in_favour: int, representatives: int, quorum: str, majority: str
) -> bool:
    """At least ``quorum`` of all representatives voted, and strictly more than ``majority``
    of all representatives (not only of those voting) voted for."""
    if representatives == 0:
        return False
    return Fraction(voted, representatives) >= parse_fraction(quorum) and Fraction(
        in_favour, representatives
    ) > parse_fraction(majority)


async def open_ballot(session: AsyncSession, session_id: int, kind: str) -> Ballot | None:
    return await session.scalar(
        select(Ballot).where(
            Ballot.session_id == session_id, Ballot.kind == kind, Ballot.closed_at.is_(None)
        )
    )


async def open_election(
    session: AsyncSession,
    bs: BargainingSession,
    seats: int,
    closes_at: datetime,
    candidate_ids: Sequence[int],
    now: datetime,
) -> Ballot:
    if bs.step != 2:
        raise Refused("ballots.election_not_now")
    if await open_ballot(session, bs.id, "election") is not None:
        raise Refused("ballots.already_open")
    if closes_at <= now:
        raise Refused("ballots.closes_in_past")
    if len(set(candidate_ids)) != len(candidate_ids) or not 1 <= seats <= len(candidate_ids):
        raise Refused("ballots.bad_candidates")
    candidates = []
    for position, member_id in enumerate(candidate_ids, 1):
        member = await session.get(Member, member_id)
        if member is None or not is_verified(member, bs.enterprise_id):
            raise Refused("ballots.not_a_member", number=member_id)
        candidates.append(
            BallotCandidate(position=position, member_id=member.id, name=member.display_name)
        )
    ballot = Ballot(session_id=bs.id, kind="election", max_choices=seats, closes_at=closes_at)
    session.add(ballot)
    await session.flush()
    for candidate in candidates:
        candidate.ballot_id = ballot.id
    session.add_all(candidates)
    await session.flush()
    return ballot


async def open_congress(
    session: AsyncSession,
    bs: BargainingSession,
    closes_at: datetime,
    quorum: str,
    majority: str,
    now: datetime,
) -> Ballot:
    if bs.step != 7:
        raise Refused("ballots.congress_not_now")
    if await open_ballot(session, bs.id, "congress") is not None:
        raise Refused("ballots.already_open")
    if closes_at <= now:
        raise Refused("ballots.closes_in_past")
    if not await representative_ids(session, bs.id):
        raise Refused("ballots.no_representatives")
    ballot = Ballot(
        session_id=bs.id,
        kind="congress",
        max_choices=1,
        closes_at=closes_at,
        quorum=quorum,
        majority=majority,
    )
    session.add(ballot)
    await session.flush()
    return ballot


async def candidates(session: AsyncSession, ballot_id: int) -> Sequence[BallotCandidate]:
    return (
        await session.scalars(
            select(BallotCandidate)
            .where(BallotCandidate.ballot_id == ballot_id)
            .order_by(BallotCandidate.position)
        )
    ).all()


async def eligible_voters(session: AsyncSession, ballot: Ballot) -> list[int]:
    """Every member of the enterprise in an election; the representatives in a congress."""
    if ballot.kind == "congress":
        return await representative_ids(session, ballot.session_id)
    bs = await session.get(BargainingSession, ballot.session_id)
    assert bs is not None
    return [m.id for m in await enterprise_members(session, bs.enterprise_id)]


async def reminder_recipients(session: AsyncSession, ballot: Ballot) -> list[int]:
    """Eligible members who have not voted yet and have not switched reminders off.

    The voter register says who voted, never how."""
    eligible = await eligible_voters(session, ballot)
    voted = set(
        (
            await session.scalars(
                select(BallotVoter.member_id).where(BallotVoter.ballot_id == ballot.id)
            )
        ).all()
    )
    return await member_settings.with_reminders_on(
        session, [member_id for member_id in eligible if member_id not in voted]
    )


async def may_vote(session: AsyncSession, ballot: Ballot, member_id: int) -> bool:
    """One query, not the whole register: this runs for every vote."""
    if ballot.kind == "congress":
        found = await session.scalar(
            select(Representative.id).where(
                Representative.session_id == ballot.session_id,
                Representative.member_id == member_id,
            )
        )
    else:
        found = await session.scalar(
            select(Member.id)
            .join(BargainingSession, BargainingSession.enterprise_id == Member.enterprise_id)
            .where(
                Member.id == member_id,
                Member.enterprise_status == Status.VERIFIED,
                BargainingSession.id == ballot.session_id,
            )
        )
    return found is not None


async def cast_vote(
    session: AsyncSession, ballot: Ballot, member_id: int, choices: Sequence[str], now: datetime
) -> str:
    """Record one member's vote; returns their receipt code.

    A second vote is refused here with a reason; two votes racing each other are stopped by
    the register's primary key, and the losing message's transaction writes nothing."""
    if ballot.closed_at is not None or now >= ballot.closes_at:
        raise Refused("ballots.closed")
    if not await may_vote(session, ballot, member_id):
        raise Refused("ballots.not_eligible")
    paper = await _paper(session, ballot, choices)
    voted = await session.scalar(
        select(BallotVoter.member_id).where(
            BallotVoter.ballot_id == ballot.id, BallotVoter.member_id == member_id
        )
    )
    if voted is not None:
        raise Refused("ballots.already_voted")
    receipt = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))
    session.add(BallotVoter(ballot_id=ballot.id, member_id=member_id))
    session.add(
        BallotPaper(id=secrets.token_hex(16), ballot_id=ballot.id, receipt=receipt, choices=paper)
    )
    await session.flush()
    return receipt


async def _paper(session: AsyncSession, ballot: Ballot, choices: Sequence[str]) -> dict[str, Any]:
    if ballot.kind == "congress":
        if len(choices) != 1 or choices[0] not in CONGRESS_CHOICES:
            raise Refused("ballots.bad_choice")
        return {"vote": choices[0]}
    count = len(await candidates(session, ballot.id))
    positions = sorted({int(c) for c in choices if c.isascii() and c.isdigit()})
    if (
        not positions
        or len(positions) != len(choices)
        or len(positions) > ballot.max_choices
        or not all(1 <= p <= count for p in positions)
    ):
        raise Refused("ballots.bad_election_choice", seats=ballot.max_choices, count=count)
    return {"candidates": positions}


async def ballots_to_close(session: AsyncSession, now: datetime) -> Sequence[Ballot]:
    """Open ballots whose closing time has passed (for a job that sweeps them up)."""
    return (
        await session.scalars(
            select(Ballot).where(Ballot.closed_at.is_(None), Ballot.closes_at <= now)
        )
    ).all()


async def close_ballot(session: AsyncSession, ballot: Ballot, now: datetime) -> Ballot:
    """Count the papers and publish the tally on the ballot; an election also makes its
    winners the session's representatives. Refused before the closing time or twice."""
    if ballot.closed_at is not None:
        raise Refused("ballots.already_closed")
    if now < ballot.closes_at:
        raise Refused("ballots.not_due")
    papers = (
        await session.scalars(
            select(BallotPaper)
            .where(BallotPaper.ballot_id == ballot.id)
            .order_by(BallotPaper.receipt)
        )
    ).all()
    eligible = len(await eligible_voters(session, ballot))
    if ballot.kind == "congress":
        counts = Counter(paper.choices["vote"] for paper in papers)
        ballot.passed = congress_passes(
            len(papers), counts["for"], eligible, ballot.quorum, ballot.majority
        )
        ballot.result = {
            "voted": len(papers),
            "counts": {choice: counts[choice] for choice in CONGRESS_CHOICES},
            "papers": [[paper.receipt, paper.choices["vote"]] for paper in papers],
        }
    else:
        listed = await candidates(session, ballot.id)
        votes = Counter(p for paper in papers for p in paper.choices["candidates"])
        ranked = sorted(listed, key=lambda c: (-votes[c.position], c.position))
        winners = [c for c in ranked[: ballot.max_choices] if votes[c.position] > 0]
        await session.execute(
            delete(Representative).where(Representative.session_id == ballot.session_id)
        )
        session.add_all(
            Representative(session_id=ballot.session_id, member_id=c.member_id) for c in winners
        )
        names = {c.position: c.name for c in listed}
        ballot.result = {
            "voted": len(papers),
            "counts": [[c.name, votes[c.position]] for c in listed],
            "winners": [c.name for c in winners],
            "papers": [
                [paper.receipt, "、".join(names[p] for p in paper.choices["candidates"])]
                for paper in papers
            ],
        }
    ballot.eligible = eligible
    ballot.closed_at = now
    await session.flush()
    return ballot


async def ballots_of(session: AsyncSession, session_id: int) -> Sequence[Ballot]:
    return (
        await session.scalars(
            select(Ballot).where(Ballot.session_id == session_id).order_by(Ballot.id)
        )
    ).all()


async def open_ballots_for(session: AsyncSession, member_id: int, now: datetime) -> list[Ballot]:
    """Ballots open now in which this member may vote and has not yet voted."""
    member = await session.get(Member, member_id)
    if (
        member is None
        or member.enterprise_id is None
        or not is_verified(member, member.enterprise_id)
    ):
        return []
    ballots = (
        await session.scalars(
            select(Ballot)
            .join(BargainingSession, BargainingSession.id == Ballot.session_id)
            .where(
                BargainingSession.enterprise_id == member.enterprise_id,
                Ballot.closed_at.is_(None),
                Ballot.closes_at > now,
            )
            .order_by(Ballot.id)
        )
    ).all()
    voted = set(
        await session.scalars(
            select(BallotVoter.ballot_id).where(BallotVoter.member_id == member_id)
        )
    )
    return [
        b for b in ballots if b.id not in voted and member_id in await eligible_voters(session, b)
    ]
