"""The bot as deployed: every service's router, included in one dispatcher."""

from __future__ import annotations

from bot.app import App, create_app
from bot.i18n import Translations
from bot.router import Router
from bot.settings import Settings
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


def service_routers() -> list[Router]:
    """Every service's router; the dispatcher refuses two that claim the same route."""

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


def build_app(settings: Settings, translations: Translations | None = None) -> App:
    return create_app(settings, service_routers(), translations)
