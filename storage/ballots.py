"""Secret, one-person-one-vote ballots: the representative election and the workers' congress.

Opening a ballot freezes its voter roll (``ballot_roll``: the members eligible at that
moment; later joiners get no vote in it) and makes the sealed urn's key pair
(:mod:`storage.urn`). Casting a vote writes two rows that share nothing but the ballot: the
voter register row (who voted; its primary key makes a second vote impossible) and the
paper, sealed under the ballot's public key, holding the choice and a random receipt code
the voter keeps. Nothing readable in the database pairs a voter with a choice, whatever
order the rows were stored in.

Closing (:func:`close_ballot`; a job at ``Ballot.closes_at`` or the chair once that time has
passed) opens the papers in memory, counts them, stores the totals and the counted
receipts in sorted order (never which choice a receipt made), deletes the papers, and
erases the private key once the transaction commits. :func:`handlers.ballots.close_and_publish`
pushes the result to the session's followers.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import member_settings, urn
from storage.bargaining import enterprise_members, representative_ids
from storage.memberships import is_verified
from storage.models import Member
from storage.models.bargaining import (
    Ballot,
    BallotCandidate,
    BallotPaper,
    BallotRoll,
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
            Ballot.session_id == session_id,
            Ballot.kind == kind,
            Ballot.closed_at.is_(None),
            Ballot.voided_at.is_(None),
        )
    )


async def _open(
    session: AsyncSession, ballot: Ballot, voters: Sequence[int], key_dir: Path
) -> Ballot:
    """Store the ballot with its frozen roll and its urn's public key."""
    ballot.eligible = len(voters)
    session.add(ballot)
    await session.flush()
    ballot.public_key = urn.new_key(key_dir, ballot.id)
    session.add_all(BallotRoll(ballot_id=ballot.id, member_id=m) for m in dict.fromkeys(voters))
    await session.flush()
    return ballot


async def open_election(
    session: AsyncSession,
    bs: BargainingSession,
    seats: int,
    closes_at: datetime,
    candidate_ids: Sequence[int],
    now: datetime,
    key_dir: Path,
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
    voters = [m.id for m in await enterprise_members(session, bs.enterprise_id)]
    ballot = await _open(
        session,
        Ballot(session_id=bs.id, kind="election", max_choices=seats, closes_at=closes_at),
        voters,
        key_dir,
    )
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
    key_dir: Path,
) -> Ballot:
    if bs.step != 7:
        raise Refused("ballots.congress_not_now")
    if await open_ballot(session, bs.id, "congress") is not None:
        raise Refused("ballots.already_open")
    if closes_at <= now:
        raise Refused("ballots.closes_in_past")
    voters = await representative_ids(session, bs.id)
    if not voters:
        raise Refused("ballots.no_representatives")
    ballot = Ballot(
        session_id=bs.id,
        kind="congress",
        max_choices=1,
        closes_at=closes_at,
        quorum=quorum,
        majority=majority,
    )
    return await _open(session, ballot, voters, key_dir)


async def candidates(session: AsyncSession, ballot_id: int) -> Sequence[BallotCandidate]:
    return (
        await session.scalars(
            select(BallotCandidate)
            .where(BallotCandidate.ballot_id == ballot_id)
            .order_by(BallotCandidate.position)
        )
    ).all()


async def eligible_voters(session: AsyncSession, ballot: Ballot) -> list[int]:
    """The voter roll, as frozen when the ballot opened."""
    rows = await session.scalars(
        select(BallotRoll.member_id)
        .where(BallotRoll.ballot_id == ballot.id)
        .order_by(BallotRoll.member_id)
    )
    return list(rows)


async def reminder_recipients(session: AsyncSession, ballot: Ballot) -> list[int]:
    """Members on the roll who have not voted yet and have not switched reminders off.

    The voter register says who voted, never how."""
    rows = await session.scalars(
        select(BallotRoll.member_id)
        .where(BallotRoll.ballot_id == ballot.id, ~_has_voted(ballot.id, BallotRoll.member_id))
        .order_by(BallotRoll.member_id)
    )
    return await member_settings.with_reminders_on(session, list(rows))


def _has_voted(ballot_id: Any, member_id: Any) -> Any:
    return exists().where(BallotVoter.ballot_id == ballot_id, BallotVoter.member_id == member_id)


async def cast_vote(
    session: AsyncSession, ballot: Ballot, member_id: int, choices: Sequence[str], now: datetime
) -> tuple[str, dict[str, Any]]:
    """Record one member's vote; returns their receipt code and the paper (their choice),
    which is shown to them once and stored only sealed.

    The member's row is locked first (``FOR UPDATE`` on PostgreSQL; SQLite writes one
    transaction at a time), as merging two members locks both, so two presses of one
    member at the same instant (from two linked identities, say) are served one after the
    other and the second is refused, and a vote never slips into a merge half done."""
    if ballot.closed_at is not None or ballot.voided_at is not None or now >= ballot.closes_at:
        raise Refused("ballots.closed")
    still_there = await session.scalar(
        select(Member.id).where(Member.id == member_id).with_for_update()
    )
    if still_there is None:
        raise Refused("ballots.account_merged")
    on_roll = await session.scalar(
        select(BallotRoll.member_id)
        .where(BallotRoll.ballot_id == ballot.id, BallotRoll.member_id == member_id)
        .with_for_update()
    )
    if on_roll is None or ballot.public_key is None:
        raise Refused("ballots.not_eligible")
    paper, count = await _paper(session, ballot, choices)
    voted = await session.scalar(
        select(BallotVoter.member_id).where(
            BallotVoter.ballot_id == ballot.id, BallotVoter.member_id == member_id
        )
    )
    if voted is not None:
        raise Refused("ballots.already_voted")
    receipt = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))
    sealed = urn.seal(
        ballot.public_key, {"r": receipt, **paper}, urn.paper_size(ballot.max_choices, count)
    )
    session.add(BallotVoter(ballot_id=ballot.id, member_id=member_id))
    session.add(BallotPaper(id=secrets.token_hex(16), ballot_id=ballot.id, sealed=sealed))
    await session.flush()
    return receipt, paper


async def _paper(
    session: AsyncSession, ballot: Ballot, choices: Sequence[str]
) -> tuple[dict[str, Any], int]:
    """The paper's choice (``{"v": "for"}`` or ``{"c": [1, 3]}``) and the candidate count."""
    if ballot.kind == "congress":
        if len(choices) != 1 or choices[0] not in CONGRESS_CHOICES:
            raise Refused("ballots.bad_choice")
        return {"v": choices[0]}, 0
    count = len(await candidates(session, ballot.id))
    positions = sorted({int(c) for c in choices if c.isascii() and c.isdigit()})
    if (
        not positions
        or len(positions) != len(choices)
        or len(positions) > ballot.max_choices
        or not all(1 <= p <= count for p in positions)
    ):
        raise Refused("ballots.bad_election_choice", seats=ballot.max_choices, count=count)
    return {"c": positions}, count


async def ballots_to_close(session: AsyncSession, now: datetime) -> Sequence[Ballot]:
    """Open ballots whose closing time has passed (for a job that sweeps them up)."""
    return (
        await session.scalars(
            select(Ballot).where(
                Ballot.closed_at.is_(None), Ballot.voided_at.is_(None), Ballot.closes_at <= now
            )
        )
    ).all()


async def close_ballot(
    session: AsyncSession, ballot: Ballot, now: datetime, key_dir: Path
) -> Ballot:
    """Open the urn, count, publish totals and sorted receipts, delete the papers; the
    private key is erased once this transaction commits (a rollback keeps it, so the
    ballot can still be counted). An election also makes its winners the session's
    representatives. Refused before the closing time or twice."""
    if ballot.closed_at is not None:
        raise Refused("ballots.already_closed")
    if ballot.voided_at is not None:
        raise Refused("ballots.void")
    if now < ballot.closes_at:
        raise Refused("ballots.not_due")
    sealed = list(
        await session.scalars(select(BallotPaper.sealed).where(BallotPaper.ballot_id == ballot.id))
    )
    try:
        papers = (
            urn.open_papers(key_dir, ballot.id, ballot.public_key, sealed)
            if ballot.public_key
            else []
        )
    except urn.UrnKeyMissing:
        raise Refused("ballots.key_missing") from None
    receipts = sorted(paper["r"] for paper in papers)
    if ballot.kind == "congress":
        counts = Counter(paper["v"] for paper in papers)
        ballot.passed = congress_passes(
            len(papers), counts["for"], ballot.eligible, ballot.quorum, ballot.majority
        )
        ballot.result = {
            "voted": len(papers),
            "counts": {choice: counts[choice] for choice in CONGRESS_CHOICES},
            "receipts": receipts,
        }
    else:
        listed = await candidates(session, ballot.id)
        votes = Counter(p for paper in papers for p in paper["c"])
        ranked = sorted(listed, key=lambda c: (-votes[c.position], c.position))
        winners = [c for c in ranked[: ballot.max_choices] if votes[c.position] > 0]
        await session.execute(
            delete(Representative).where(Representative.session_id == ballot.session_id)
        )
        session.add_all(
            Representative(session_id=ballot.session_id, member_id=c.member_id) for c in winners
        )
        ballot.result = {
            "voted": len(papers),
            "counts": [[c.name, votes[c.position]] for c in listed],
            "winners": [c.name for c in winners],
            "receipts": receipts,
        }
    del papers
    await session.execute(delete(BallotPaper).where(BallotPaper.ballot_id == ballot.id))
    ballot.closed_at = now
    await session.flush()
    if ballot.public_key:
        urn.erase_key_after_commit(session, key_dir, ballot.id, ballot.public_key)
    return ballot


async def ballots_of(session: AsyncSession, session_id: int) -> Sequence[Ballot]:
    return (
        await session.scalars(
            select(Ballot).where(Ballot.session_id == session_id).order_by(Ballot.id)
        )
    ).all()


async def open_ballots_for(session: AsyncSession, member_id: int, now: datetime) -> list[Ballot]:
    """Ballots open now on whose roll this member is and in which they have not voted."""
    rows = await session.scalars(
        select(Ballot)
        .join(BallotRoll, BallotRoll.ballot_id == Ballot.id)
        .where(
            BallotRoll.member_id == member_id,
            Ballot.closed_at.is_(None),
            Ballot.voided_at.is_(None),
            Ballot.closes_at > now,
            ~_has_voted(Ballot.id, member_id),
        )
        .order_by(Ballot.id)
    )
    return list(rows)


async def counted_in(session: AsyncSession, member_id: int, receipt: str) -> Ballot | None:
    """The closed ballot on whose roll the member is and whose counted papers include
    ``receipt``: what ``/receipt CODE`` answers, to that member only."""
    closed = await session.scalars(
        select(Ballot)
        .join(BallotRoll, BallotRoll.ballot_id == Ballot.id)
        .where(BallotRoll.member_id == member_id, Ballot.closed_at.is_not(None))
        .order_by(Ballot.id.desc())
    )
    for ballot in closed:
        if receipt in (ballot.result or {}).get("receipts", []):
            return ballot
    return None


async def voted_in_open(session: AsyncSession, member_id: int) -> int:
    """How many ballots the member voted in that are not counted yet."""
    rows = await session.scalars(
        select(Ballot.id)
        .join(BallotVoter, BallotVoter.ballot_id == Ballot.id)
        .where(
            BallotVoter.member_id == member_id,
            Ballot.closed_at.is_(None),
            Ballot.voided_at.is_(None),
        )
    )
    return len(list(rows))
