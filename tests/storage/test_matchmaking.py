"""Suggested pairs are filtered, scored and cut to the best few in SQL: the same ranking as
scoring every candidate with :func:`score_pair`, the same exclusions, on both databases."""

from __future__ import annotations

import random

from sqlalchemy import select

from bot.app import App
from storage import matchmaking
from storage.models.singles import HOBBIES, Block, Education, Introduction, Profile
from storage.types import utcnow
from tests.singles import add_profile, ensure_member

TOWNS = ["新安江街道", "寿昌镇", "寿昌", "杭州", "新_安", "100%街"]


async def ranked_by_python(app: App, profile_id: int) -> list[tuple[int, int]]:
    now = utcnow()
    async with app.sessions() as session:
        me = await session.get(Profile, profile_id)
        assert me is not None
        others = await session.scalars(select(Profile).where(Profile.gender != me.gender))
        scored = [matchmaking.score_pair(me, other, now) for other in others if not other.paused]
    best = sorted((s for s in scored if s.score > 0), key=lambda s: (-s.score, s.profile.id))
    return [(s.profile.id, s.score) for s in best[: matchmaking.MAX_SUGGESTIONS]]


async def ranked_by_sql(app: App, profile_id: int) -> list[tuple[int, int]]:
    matchmaker = await ensure_member(app, "hongniang")
    async with app.sessions() as session, session.begin():
        me = await session.get(Profile, profile_id)
        assert me is not None
        found = await matchmaking.suggestions(
            session, app.settings.key_dir, matchmaker, me, utcnow()
        )
    return [(s.profile.id, s.score) for s in found]


async def test_the_database_ranks_as_the_documented_score_does(app: App) -> None:
    rng = random.Random(16)
    year = utcnow().year
    ids = []
    for n in range(60):
        low = rng.randint(20, 35)
        ids.append(
            await add_profile(
                app,
                f"p{n}",
                rng.choice("fm"),
                year - rng.randint(20, 45),
                town=rng.choice(TOWNS),
                education=rng.choice(list(Education)),
                hobbies=rng.sample(HOBBIES, rng.randint(0, 6)),
                seek_age_min=low,
                seek_age_max=low + rng.randint(0, 15),
                seek_towns=rng.sample(TOWNS, rng.choice([0, 0, 1, 2])),
                paused=n % 11 == 0,
            )
        )
    for profile_id in ids[1:12]:
        expected = await ranked_by_python(app, profile_id)
        assert expected, "the data gives every seeker someone"
        assert await ranked_by_sql(app, profile_id) == expected


async def test_blocked_and_introduced_people_are_never_suggested(app: App) -> None:
    year = utcnow().year
    she = await add_profile(app, "she", "f", year - 28)
    blocked = await add_profile(app, "blocked", "m", year - 29)
    blocker = await add_profile(app, "blocker", "m", year - 30)
    introduced = await add_profile(app, "introduced", "m", year - 31)
    free = await add_profile(app, "free", "m", year - 32)
    me, them = await ensure_member(app, "she"), await ensure_member(app, "blocked")
    async with app.sessions() as session, session.begin():
        session.add(Block(member_id=me, blocked_id=them))
        session.add(Block(member_id=await ensure_member(app, "blocker"), blocked_id=me))
        now = utcnow()
        session.add(
            Introduction(
                member_a_id=await ensure_member(app, "introduced"),
                member_b_id=me,
                expires_at=now,
            )
        )
        session.add(Introduction(member_a_id=me, member_b_id=None, expires_at=now))
    suggested = [profile_id for profile_id, _ in await ranked_by_sql(app, she)]
    assert free in suggested, "an introduction whose other side was forgotten excludes nobody"
    assert not {blocked, blocker, introduced} & set(suggested)
