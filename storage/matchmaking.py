"""Matchmakers' work: anonymised candidates, suggested pairs, double-opt-in introductions,
outcomes and statistics.

How a pair is scored (:func:`score_pair`), out of 100:

* **ages, 40**: each person's age lies within the age range the other looks for. Both ways
  give 40, one way 15. An introduction the other side would not want is worth little.
* **towns, 30**: each person's town is among the towns the other would meet someone from
  (no towns listed means anywhere). Both ways 30, one way 10.
* **hobbies, up to 20**: 5 for each hobby they share.
* **education, 10**: the same level or next to each other.

Only women and men are paired (the programme's events are balanced that way), never a
paused profile, and never a pair introduced before, whatever became of that introduction:
declined, expired, blocked or forgotten. So a block holds for good, and nobody is asked
twice about the same person. The rule is two conditions: :func:`excluded_partners` (a
query of everyone the member was introduced to or blocked, their ids on the rows) and, for
introductions one side has since forgotten, the pair's keyed hash kept on the row
(:func:`pair_key`), which names neither member. Each reason that added points is returned
with the score, so the matchmaker sees why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.model_worker_code import keyed_hash
from storage.models import Member
from storage.models.singles import (
    EDUCATION_RANK,
    AbuseReport,
    Answer,
    Block,
    Education,
    Gender,
    Introduction,
    IntroStatus,
    Outcome,
    Profile,
    ProfileView,
)
from storage.portable import json_elements, text_position
from storage.refusals import Refused

INTRODUCTION_LIFETIME = timedelta(days=7)
MAX_PENDING_INTRODUCTIONS = 3
"""A member is asked about at most this many introductions at once."""
MAX_SUGGESTIONS = 5


@dataclass
class Suggestion:
    profile: Profile
    score: int = 0
    reasons: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def age_of(profile: Profile, now: datetime) -> int:
    return now.year - profile.birth_year


def _wants_age(seeker: Profile, other: Profile, now: datetime) -> bool:
    return seeker.seek_age_min <= age_of(other, now) <= seeker.seek_age_max


def _wants_town(seeker: Profile, other: Profile) -> bool:
    return not seeker.seek_towns or any(
        town in other.town or other.town in town for town in seeker.seek_towns
    )


def score_pair(one: Profile, other: Profile, now: datetime) -> Suggestion:
    """Score ``other`` as a partner for ``one``; see the module docstring for the rules."""
    found = Suggestion(other)
    ages = _wants_age(one, other, now) + _wants_age(other, one, now)
    if ages:
        found.score += 40 if ages == 2 else 15
        found.reasons.append(
            ("match.reason.ages_both" if ages == 2 else "match.reason.ages_one", {})
        )
    towns = _wants_town(one, other) + _wants_town(other, one)
    if towns:
        found.score += 30 if towns == 2 else 10
        found.reasons.append(
            ("match.reason.towns_both" if towns == 2 else "match.reason.towns_one", {})
        )
    shared = sorted(set(one.hobbies) & set(other.hobbies))
    if shared:
        found.score += min(5 * len(shared), 20)
        found.reasons.append(("match.reason.hobbies", {"hobbies": shared}))
    gap = abs(EDUCATION_RANK[Education(one.education)] - EDUCATION_RANK[Education(other.education)])
    if gap <= 1:
        found.score += 10
        found.reasons.append(("match.reason.education", {}))
    return found


async def log_views(session: AsyncSession, matchmaker_id: int, member_ids: list[int]) -> None:
    session.add_all(ProfileView(matchmaker_id=matchmaker_id, member_id=m) for m in member_ids)
    await session.flush()


async def candidates(
    session: AsyncSession, matchmaker_id: int, offset: int, limit: int
) -> tuple[list[Profile], int]:
    """A page of active profiles for a matchmaker, each view logged; and the total."""
    active = select(Profile).where(Profile.paused.is_(False))
    total = await session.scalar(select(func.count()).select_from(active.subquery())) or 0
    page = list(await session.scalars(active.order_by(Profile.id).offset(offset).limit(limit)))
    await log_views(session, matchmaker_id, [p.member_id for p in page])
    return page, total


async def active_profile(session: AsyncSession, profile_id: int) -> Profile:
    profile = await session.get(Profile, profile_id)
    if profile is None or profile.paused:
        raise Refused("match.no_such_profile", number=profile_id)
    return profile


def pair_key(key_dir: Path, one: int, other: int) -> str:
    """Two members as a keyed hash, the same in either order. It stays on an introduction
    after either forgets, so the pair is still known to have met, and neither's id is."""
    low, high = sorted((one, other))
    return keyed_hash(key_dir, "singles-pair", f"{low}:{high}")


def _pair(one: Any, other: Any) -> Any:
    return or_(
        and_(Introduction.member_a_id == one, Introduction.member_b_id == other),
        and_(Introduction.member_a_id == other, Introduction.member_b_id == one),
    )


def excluded_partners(member_id: int) -> CompoundSelect[Any]:
    """The pair-exclusion rule as a query: everyone ``member_id`` was ever introduced to,
    whatever came of it, or blocked, or was blocked by, while both ids are on the rows."""
    return union(
        _partners(Block.member_id, Block.blocked_id, member_id),
        _partners(Block.blocked_id, Block.member_id, member_id),
        _partners(Introduction.member_a_id, Introduction.member_b_id, member_id),
        _partners(Introduction.member_b_id, Introduction.member_a_id, member_id),
    )


async def kept_apart(session: AsyncSession, key_dir: Path, one: int, other: int) -> bool:
    """Whether the two may never be introduced: :func:`excluded_partners`, or an
    introduction of theirs that one side has forgotten since (the pair's keyed hash)."""
    return bool(
        await session.scalar(
            select(
                or_(
                    literal(other).in_(excluded_partners(one)),
                    exists().where(Introduction.pair_key == pair_key(key_dir, one, other)),
                )
            )
        )
    )


async def _forgotten_pairs(
    session: AsyncSession, key_dir: Path, member_id: int, others: list[int]
) -> set[int]:
    """Which of ``others`` were introduced to ``member_id`` before one side forgot: the
    pair's keyed hash is on an introduction."""
    keys = {pair_key(key_dir, member_id, other): other for other in others}
    met = await session.scalars(
        select(Introduction.pair_key).where(Introduction.pair_key.in_(keys))
    )
    return {keys[key] for key in met if key is not None}


def _opposite(gender: str) -> str:
    return Gender.MALE if gender == Gender.FEMALE else Gender.FEMALE


def _contains(haystack: Any, needle: Any) -> ColumnElement[bool]:
    return text_position(haystack, needle) > 0


def _both_or_one(one_way: Any, other_way: Any, both: int, one: int) -> ColumnElement[int]:
    """``both`` points when both conditions hold, ``one`` when either does. Nested so that
    each condition is evaluated once per row (the town test reads a JSON array)."""
    return case(
        (one_way, case((other_way, both), else_=one)),
        else_=case((other_way, one), else_=0),
    )


def _score(profile: Profile, now: datetime) -> ColumnElement[int]:
    """:func:`score_pair` of each candidate row as SQL: the same rules, point for point."""
    age = age_of(profile, now)
    wanted_age = Profile.birth_year.between(
        now.year - profile.seek_age_max, now.year - profile.seek_age_min
    )
    wants_age = and_(Profile.seek_age_min <= age, Profile.seek_age_max >= age)
    wanted_town: ColumnElement[bool] = or_(
        true() if not profile.seek_towns else false(),
        *(
            or_(_contains(Profile.town, town), _contains(literal(town), Profile.town))
            for town in profile.seek_towns
        ),
    )
    their_towns = json_elements(Profile.seek_towns).table_valued("value")
    wants_town = or_(
        func.json_array_length(Profile.seek_towns) == 0,
        exists().where(
            or_(
                _contains(literal(profile.town), their_towns.c.value),
                _contains(their_towns.c.value, literal(profile.town)),
            )
        ),
    )
    their_hobbies = json_elements(Profile.hobbies).table_valued("value")
    shared = func.count(their_hobbies.c.value.distinct())
    hobby_points = (
        select(case((shared >= 4, 20), else_=5 * shared))
        .where(their_hobbies.c.value.in_(profile.hobbies or [""]))
        .scalar_subquery()
    )
    rank = EDUCATION_RANK[Education(profile.education)]
    near = [e for e, r in EDUCATION_RANK.items() if abs(r - rank) <= 1]
    return (
        _both_or_one(wanted_age, wants_age, 40, 15)
        + _both_or_one(wanted_town, wants_town, 30, 10)
        + hobby_points
        + case((Profile.education.in_(near), 10), else_=0)
    )


def _partners(one: Any, other: Any, member_id: int) -> Select[Any]:
    """Who is in column ``other`` of the rows (blocks, introductions) with ``member_id`` in
    ``one``; a side cleared by ``/forget`` is left out, as ``NOT IN`` a NULL would match
    nobody at all."""
    return select(other).where(one == member_id, other.is_not(None))


async def suggestions(
    session: AsyncSession, key_dir: Path, matchmaker_id: int, profile: Profile, now: datetime
) -> list[Suggestion]:
    """The best partners for ``profile``, highest score first, each view logged.

    Candidates are filtered and scored in the database, best first, a page at a time (the
    score is computed once per row, as the sort key; those scoring 0 are dropped here); a
    page's pairs with a forgotten introduction (:func:`_forgotten_pairs`) are dropped, until
    :data:`MAX_SUGGESTIONS` are found. Their reasons come from :func:`score_pair`.
    """
    me = profile.member_id
    score = _score(profile, now).label("score")
    best_first = (
        select(Profile.id, Profile.member_id, score)
        .where(
            Profile.paused.is_(False),
            Profile.gender == _opposite(profile.gender),
            Profile.member_id.not_in(excluded_partners(me)),
        )
        .order_by(score.desc(), Profile.id)
        .limit(2 * MAX_SUGGESTIONS)
    )
    order: list[int] = []
    offset = 0
    while len(order) < MAX_SUGGESTIONS:
        page = (await session.execute(best_first.offset(offset))).all()
        scored = [(profile_id, member_id) for profile_id, member_id, points in page if points]
        forgotten = await _forgotten_pairs(session, key_dir, me, [m for _, m in scored])
        order += [profile_id for profile_id, member_id in scored if member_id not in forgotten]
        if len(scored) < 2 * MAX_SUGGESTIONS:
            break
        offset += len(page)
    order = order[:MAX_SUGGESTIONS]
    found = {p.id: p for p in await session.scalars(select(Profile).where(Profile.id.in_(order)))}
    chosen = [score_pair(profile, found[profile_id], now) for profile_id in order]
    await log_views(session, matchmaker_id, [me] + [s.profile.member_id for s in chosen])
    return chosen


async def end_introduction(
    session: AsyncSession, intro_id: int, now: datetime
) -> Introduction | None:
    """Close an introduction whose answering time is over without both accepting; None if
    it is not one (accepted, already closed, gone, or not yet due). This is the only place
    a declined one closes, at the same moment an unanswered one would, so nobody can tell
    the two apart by when they hear of it."""
    intro = await session.get(Introduction, intro_id, with_for_update=True, populate_existing=True)
    if intro is None or intro.status != IntroStatus.PENDING or now < intro.expires_at:
        return None
    intro.status = IntroStatus.CLOSED
    await session.flush()
    return intro


async def pending_count(session: AsyncSession, member_id: int, now: datetime) -> int:
    count = await session.scalar(
        select(func.count()).where(
            Introduction.status == IntroStatus.PENDING,
            Introduction.expires_at > now,
            or_(Introduction.member_a_id == member_id, Introduction.member_b_id == member_id),
        )
    )
    return count or 0


async def propose(
    session: AsyncSession,
    key_dir: Path,
    matchmaker_id: int,
    one_id: int,
    other_id: int,
    now: datetime,
) -> tuple[Introduction, Profile, Profile]:
    """Propose that the members behind two profiles meet. Refuses a paused or unknown
    profile, two of the same gender, a pair introduced before (the same answer whether one
    blocked the other or not), and a member who already has
    :data:`MAX_PENDING_INTRODUCTIONS` open."""
    one = await active_profile(session, one_id)
    other = await active_profile(session, other_id)
    if one.gender == other.gender:
        raise Refused("match.same_gender")
    if await kept_apart(session, key_dir, one.member_id, other.member_id):
        raise Refused("match.already_introduced")
    for profile in (one, other):
        if await pending_count(session, profile.member_id, now) >= MAX_PENDING_INTRODUCTIONS:
            raise Refused(
                "match.too_many_pending", number=profile.id, maximum=MAX_PENDING_INTRODUCTIONS
            )
    intro = Introduction(
        matchmaker_id=matchmaker_id,
        member_a_id=one.member_id,
        member_b_id=other.member_id,
        pair_key=pair_key(key_dir, one.member_id, other.member_id),
        answer_a=Answer.PENDING,
        answer_b=Answer.PENDING,
        status=IntroStatus.PENDING,
        created_at=now,
        expires_at=now + INTRODUCTION_LIFETIME,
    )
    try:
        async with session.begin_nested():
            session.add(intro)
    except IntegrityError:
        raise Refused("match.already_introduced") from None
    return intro, one, other


async def answer(
    session: AsyncSession, intro_id: int, member_id: int, accept: bool, now: datetime
) -> Introduction:
    """Record one side's answer; the status becomes accepted when both said yes. A no
    leaves it pending until its time is over (:func:`end_introductions`), so the other side
    sees nothing different. Refuses an introduction the member is not part of, one closed
    or past its time, or a second answer."""
    intro = await session.get(Introduction, intro_id, with_for_update=True, populate_existing=True)
    if intro is None or member_id not in (intro.member_a_id, intro.member_b_id):
        raise Refused("intro.unknown")
    if intro.status != IntroStatus.PENDING or now >= intro.expires_at:
        raise Refused("intro.closed")
    column = "answer_a" if member_id == intro.member_a_id else "answer_b"
    if getattr(intro, column) != Answer.PENDING:
        raise Refused("intro.already_answered")
    setattr(intro, column, Answer.ACCEPTED if accept else Answer.DECLINED)
    if intro.answer_a == intro.answer_b == Answer.ACCEPTED:
        intro.status = IntroStatus.ACCEPTED
    await session.flush()
    return intro


def other_side(intro: Introduction, member_id: int) -> int | None:
    return intro.member_b_id if member_id == intro.member_a_id else intro.member_a_id


async def my_introduction(session: AsyncSession, intro_id: int, member_id: int) -> Introduction:
    intro = await session.get(Introduction, intro_id)
    if intro is None or member_id not in (intro.member_a_id, intro.member_b_id):
        raise Refused("intro.unknown")
    return intro


async def block(session: AsyncSession, intro_id: int, member_id: int, now: datetime) -> None:
    """Block the other person of an introduction. A pair is never introduced again in any
    case (see the module docstring), so the block holds for good, also after either
    forgets (the row goes with ``/forget``; the introduction's pair key stays). A pending
    introduction counts as declined by the blocker (even after a yes) and ends when its
    time is over, as any other."""
    intro = await my_introduction(session, intro_id, member_id)
    other = other_side(intro, member_id)
    if other is not None and not await session.scalar(
        select(Block.id).where(Block.member_id == member_id, Block.blocked_id == other)
    ):
        session.add(Block(member_id=member_id, blocked_id=other))
    if intro.status == IntroStatus.PENDING and now < intro.expires_at:
        column = "answer_a" if member_id == intro.member_a_id else "answer_b"
        setattr(intro, column, Answer.DECLINED)
    await session.flush()


async def report(session: AsyncSession, intro_id: int, member_id: int, reason: str) -> AbuseReport:
    intro = await my_introduction(session, intro_id, member_id)
    row = AbuseReport(
        reporter_id=member_id,
        reported_id=other_side(intro, member_id),
        introduction_id=intro.id,
        reason=reason,
    )
    session.add(row)
    await session.flush()
    return row


async def record_outcome(
    session: AsyncSession,
    intro_id: int,
    outcome: Outcome,
    now: datetime,
    recorder_id: int,
    officer: bool,
) -> Introduction:
    """Record how a couple is doing: by the matchmaker who introduced them, or an officer.
    Another matchmaker's introduction reads as unknown: they do not learn it exists."""
    intro = await session.get(Introduction, intro_id)
    if intro is None or not (officer or intro.matchmaker_id == recorder_id):
        raise Refused("match.no_such_introduction", number=intro_id)
    if intro.status != IntroStatus.ACCEPTED:
        raise Refused("match.outcome_needs_accept")
    intro.outcome, intro.outcome_at = outcome, now
    await session.flush()
    return intro


async def married_couples(
    session: AsyncSession,
) -> list[tuple[Introduction, int | None, int | None]]:
    """Couples married through the programme, for the gift: their card numbers (none once
    that member used ``/forget``), not their nicknames."""
    a, b = Profile.__table__.alias("a"), Profile.__table__.alias("b")
    rows = await session.execute(
        select(Introduction, a.c.id, b.c.id)
        .outerjoin(a, a.c.member_id == Introduction.member_a_id)
        .outerjoin(b, b.c.member_id == Introduction.member_b_id)
        .where(Introduction.outcome == Outcome.MARRIED)
        .order_by(Introduction.outcome_at)
    )
    return [(row[0], row[1], row[2]) for row in rows]


@dataclass(frozen=True)
class MatchmakerStats:
    name: str
    introductions: int
    accepted: int
    couples: int


async def matchmaker_stats(session: AsyncSession) -> list[MatchmakerStats]:
    """Per matchmaker: introductions proposed, mutual accepts, and couples (engaged or married)."""
    accepted = func.sum(case((Introduction.status == IntroStatus.ACCEPTED, 1), else_=0))
    couples = func.sum(
        case((Introduction.outcome.in_((Outcome.ENGAGED, Outcome.MARRIED)), 1), else_=0)
    )
    rows = await session.execute(
        select(Member.display_name, func.count(Introduction.id), accepted, couples)
        .join(Member, Member.id == Introduction.matchmaker_id)
        .group_by(Member.id, Member.display_name)
        .order_by(func.count(Introduction.id).desc(), Member.id)
    )
    return [
        MatchmakerStats(name, total, int(acc or 0), int(cpl or 0)) for name, total, acc, cpl in rows
    ]


async def view_log(session: AsyncSession, limit: int) -> list[tuple[ProfileView, str, int | None]]:
    """The latest profile views: the view, the matchmaker's name and the viewed card's
    number (none once that member used ``/forget``); officers do not see nicknames."""
    rows = await session.execute(
        select(ProfileView, func.coalesce(Member.display_name, "-"), Profile.id)
        .outerjoin(Member, Member.id == ProfileView.matchmaker_id)
        .outerjoin(Profile, Profile.member_id == ProfileView.member_id)
        .order_by(ProfileView.viewed_at.desc(), ProfileView.id.desc())
        .limit(limit)
    )
    return [(row[0], row[1], row[2]) for row in rows]
