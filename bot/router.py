"""Routers: each service module owns one and registers its handlers beside their code.

A handler is ``async def handler(ctx: Context) -> None``. Routes are matched by
:class:`bot.dispatcher.Dispatcher`, which includes every service's router; adding a service
never means editing a central if/elif.

Payload conventions, kept short for Telegram's 64-byte ``callback_data`` and deep links:
a button payload is ``prefix`` or ``prefix:args``; a deep-link payload is ``prefix`` or
``prefix_args`` (Telegram allows only letters, digits, ``_`` and ``-`` there).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from storage.models import Role

if TYPE_CHECKING:
    from bot.context import Context
    from bot.dialogs import Form

Handler = Callable[["Context"], Awaitable[None]]
TextHandler = Callable[["Context"], Awaitable[bool]]


@dataclass(frozen=True)
class Route:
    handler: Handler
    role: Role | None = None
    private: bool = False
    """Shows private data, so in a group chat it only points the member to a private chat."""


@dataclass(frozen=True)
class CommandInfo:
    name: str
    help: str
    role: Role | None


@dataclass(frozen=True)
class MenuItem:
    label: str
    payload: str
    role: Role | None = None
    order: int = 100


class Router:
    def __init__(self, name: str) -> None:
        self.name = name
        self.commands: dict[str, Route] = {}
        self.command_help: list[CommandInfo] = []
        self.buttons: dict[str, Route] = {}
        self.starts: dict[str, Route] = {}
        self.texts: list[TextHandler] = []
        self.locations: list[Handler] = []
        self.forms: dict[str, Form] = {}
        self.menu_items: list[MenuItem] = []

    def command(
        self,
        name: str,
        *,
        help: str | None = None,
        role: Role | None = None,
        private: bool = False,
        listed_for: Role | None = None,
    ) -> Callable[[Handler], Handler]:
        """Handle ``/name [args]``; ``help`` is the message id shown by ``/help``, to holders
        of ``role``, or of ``listed_for`` for a command that checks several roles itself."""

        def register(handler: Handler) -> Handler:
            self.commands[name] = Route(handler, role, private)
            if help:
                self.command_help.append(CommandInfo(name, help, listed_for or role))
            return handler

        return register

    def button(
        self, prefix: str, *, role: Role | None = None, private: bool = False
    ) -> Callable[[Handler], Handler]:
        """Handle pressed buttons whose payload is ``prefix`` or ``prefix:args``."""

        def register(handler: Handler) -> Handler:
            self.buttons[prefix] = Route(handler, role, private)
            return handler

        return register

    def start(
        self, prefix: str, *, role: Role | None = None, private: bool = False
    ) -> Callable[[Handler], Handler]:
        """Handle deep links (``/start prefix_args``, a WeChat QR scene) with this prefix."""

        def register(handler: Handler) -> Handler:
            self.starts[prefix] = Route(handler, role, private)
            return handler

        return register

    def text(self) -> Callable[[TextHandler], TextHandler]:
        """Offer free text outside any form; the handler returns whether it took it."""

        def register(handler: TextHandler) -> TextHandler:
            self.texts.append(handler)
            return handler

        return register

    def location(self) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.locations.append(handler)
            return handler

        return register

    def form(self, form: Form) -> Form:
        self.forms[form.name] = form
        return form

    def menu(self, label: str, payload: str, *, role: Role | None = None, order: int = 100) -> None:
        """Add an entry to the main menu; ``label`` is a message id."""
        self.menu_items.append(MenuItem(label, payload, role, order))
