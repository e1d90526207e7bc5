"""Assembles the bot: settings, database, translations, the services' routers, delivery."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.delivery import Messenger
from bot.dispatcher import Dispatcher
from bot.i18n import Translations
from bot.router import Router
from bot.scheduler import Jobs
from bot.settings import LANGUAGES, Settings
from storage.db import create_engine, session_factory


def service_routers() -> list[Router]:
    """Every service's router, in the order their routes and menu entries are tried."""
    from handlers import (
        account,
        ballot_page,
        ballots,
        bargaining,
        bargaining_review,
        benefits,
        broadcasts,
        core,
        dashboard,
        events,
        invites,
        matchmaking,
        meeting,
        membership,
        model_workers,
        notices,
        profiles,
        roles,
        settings,
        suggestions,
        wechat,
    )

    return [
        core.router,
        invites.router,
        account.router,
        membership.router,
        roles.router,
        notices.router,
        broadcasts.router,
        settings.router,
        profiles.router,
        events.router,
        matchmaking.router,
        benefits.router,
        model_workers.router,
        bargaining.router,
        bargaining_review.router,
        meeting.router,
        ballots.router,
        suggestions.router,
        wechat.router,
        dashboard.router,
        ballot_page.router,
    ]


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    messenger: Messenger
    dispatcher: Dispatcher
    jobs: Jobs

    async def close(self) -> None:
        self.jobs.shutdown()
        await self.engine.dispose()


def build_app(settings: Settings, translations: Translations | None = None) -> App:
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    translations = translations or Translations(LANGUAGES)
    messenger = Messenger(sessions, translations)
    jobs = Jobs(settings)
    dispatcher = Dispatcher(settings, sessions, translations, messenger, service_routers(), jobs)
    return App(settings, engine, sessions, messenger, dispatcher, jobs)
