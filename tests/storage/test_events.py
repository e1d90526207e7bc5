"""Concurrent sign-ups for the last places never overbook: the event row is locked."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.messages import Incoming
from bot.settings import Settings
from storage.models.events import SignUp, SignUpStatus
from tests.singles import add_event, add_profile
from unionbot.app import build_app

PEOPLE = 8


async def test_parallel_sign_ups_for_two_places_never_overbook(settings: Settings) -> None:
    apps = [build_app(settings) for _ in range(4)]
    try:
        event = await add_event(apps[0], places_total=2)
        for n in range(PEOPLE):
            await add_profile(apps[0], f"p{n}", "f" if n % 2 else "m", 1995)
        replies = await asyncio.gather(
            *(
                apps[n % len(apps)].dispatcher.handle(
                    Incoming("console", f"p{n}", f"p{n}", payload=f"ev:s:{event}")
                )
                for n in range(PEOPLE)
            )
        )
        texts = [reply[0].text for reply in replies]
        assert sum("签到码" in text for text in texts) == 2
        assert sum("候补" in text for text in texts) == PEOPLE - 2
        async with apps[0].sessions() as session:
            counts = dict(
                (
                    await session.execute(
                        select(SignUp.status, func.count()).group_by(SignUp.status)
                    )
                ).all()
            )
        assert counts == {SignUpStatus.CONFIRMED: 2, SignUpStatus.WAITLIST: PEOPLE - 2}
    finally:
        for app in apps:
            await app.close()


async def test_parallel_cancellations_promote_each_waiting_member_once(settings: Settings) -> None:
    apps = [build_app(settings) for _ in range(3)]
    try:
        event = await add_event(apps[0], places_total=2)
        for n in range(5):
            await add_profile(apps[0], f"p{n}", "f", 1995)
            await apps[0].dispatcher.handle(
                Incoming("console", f"p{n}", f"p{n}", payload=f"ev:s:{event}")
            )
        await asyncio.gather(
            *(
                apps[n].dispatcher.handle(
                    Incoming("console", f"p{n}", f"p{n}", payload=f"ev:c:{event}")
                )
                for n in range(2)
            )
        )
        async with apps[0].sessions() as session:
            confirmed = await session.scalar(
                select(func.count()).where(SignUp.status == SignUpStatus.CONFIRMED)
            )
            waiting = await session.scalar(
                select(func.count()).where(SignUp.status == SignUpStatus.WAITLIST)
            )
        assert (confirmed, waiting) == (2, 1)
    finally:
        for app in apps:
            await app.close()
