"""The running core: settings, database, translations, the dispatcher with the routers it
is given, delivery and the scheduler. Which routers those are is the application's choice
(:func:`unionbot.app.build_app`); the core never imports a service."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.delivery import Messenger
from bot.dispatcher import Dispatcher
from bot.i18n import Translations
from bot.router import Router
from bot.scheduler import Jobs
from bot.settings import LANGUAGES, Settings
from storage.db import create_engine, session_factory


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


def create_app(
    settings: Settings, routers: Iterable[Router], translations: Translations | None = None
) -> App:
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    translations = translations or Translations(LANGUAGES)
    messenger = Messenger(sessions, translations)
    jobs = Jobs(settings)
    dispatcher = Dispatcher(settings, sessions, translations, messenger, routers, jobs)
    return App(settings, engine, sessions, messenger, dispatcher, jobs)
