"""Routers: each service module owns one and registers its handlers beside their code.

A handler is ``async def handler(ctx: Context) -> None``. Routes are matched by
:class:`bot.dispatcher.Dispatcher`, which includes every service's router; adding a service
never means editing a central if/elif.

A button or deep link is registered either by a bare prefix (``"menu"``), whose handler
reads nothing from it, or by a :class:`bot.payloads.Payload` kind, whose handler receives the
payload read back and checked: ``async def handler(ctx: Context, press: Kind) -> None``.
Free text goes to the text handlers by what they declare (:class:`FreeText`), not by the order
the routers were included in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, TypeVar, overload

from bot.audience import Audience
from bot.delivery import MessageClass
from bot.payloads import Payload
from bot.reminders import FanOut, Kind, UrgentOf
from storage.models import Role

if TYPE_CHECKING:
    from bot.context import Context
    from bot.dialogs import Form

Handler = Callable[["Context"], Awaitable[None]]
TextHandler = Callable[["Context"], Awaitable[bool]]
P = TypeVar("P", bound=Payload)
PayloadHandler = Callable[["Context", P], Awaitable[None]]


class FreeText(IntEnum):
    """When a free-text handler applies, in the order the dispatcher offers text to them."""

    NAVIGATION = 0
    """A word that works as a command everywhere (``菜单``, ``menu``), even in a meeting."""
    LIVE = 1
    """The member takes part in something live that text belongs to (an open meeting), so
    even a word that names a service (``福利``) is said there."""
    SHAPED = 2
    """The text has a shape only this service makes (a model-worker token)."""
    KEYWORD = 3
    """A word or question that opens a service (``福利``, ``benefits?``)."""


@dataclass(frozen=True)
class Route:
    handler: Handler
    role: Role | None = None
    private: bool = False
    """Shows private data, so in a group chat it only points the member to a private chat."""
    kind: type[Payload] | None = None
    """What the payload after the prefix must read as; anything else is a stale button."""


@dataclass(frozen=True)
class TextRoute:
    handler: TextHandler
    applies: FreeText


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
        self.texts: list[TextRoute] = []
        self.locations: list[Route] = []
        self.forms: dict[str, Form] = {}
        self.menu_items: list[MenuItem] = []
        self.reminders: dict[str, Kind] = {}
        self.audiences: dict[str, Audience] = {}

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

    @overload
    def button(
        self, kind: str, *, role: Role | None = None, private: bool = False
    ) -> Callable[[Handler], Handler]: ...

    @overload
    def button(
        self, kind: type[P], *, role: Role | None = None, private: bool = False
    ) -> Callable[[PayloadHandler[P]], PayloadHandler[P]]: ...

    def button(
        self, kind: str | type[P], *, role: Role | None = None, private: bool = False
    ) -> Callable[[Handler], Handler] | Callable[[PayloadHandler[P]], PayloadHandler[P]]:
        """Handle pressed buttons: a bare prefix, or a payload kind read for the handler."""
        return self._register(self.buttons, kind, role, private, link=False)

    @overload
    def start(
        self, kind: str, *, role: Role | None = None, private: bool = False
    ) -> Callable[[Handler], Handler]: ...

    @overload
    def start(
        self, kind: type[P], *, role: Role | None = None, private: bool = False
    ) -> Callable[[PayloadHandler[P]], PayloadHandler[P]]: ...

    def start(
        self, kind: str | type[P], *, role: Role | None = None, private: bool = False
    ) -> Callable[[Handler], Handler] | Callable[[PayloadHandler[P]], PayloadHandler[P]]:
        """Handle deep links (``/start prefix_args``, a WeChat QR scene)."""
        return self._register(self.starts, kind, role, private, link=True)

    def _register(
        self,
        table: dict[str, Route],
        kind: str | type[P],
        role: Role | None,
        private: bool,
        *,
        link: bool,
    ) -> Callable[[Handler], Handler] | Callable[[PayloadHandler[P]], PayloadHandler[P]]:
        if isinstance(kind, str):

            def register(handler: Handler) -> Handler:
                table[kind] = Route(handler, role, private)
                return handler

            return register
        if kind.link != link:
            raise ValueError(f"{kind.__name__} is a {'deep link' if kind.link else 'button'}")

        def register_kind(handler: PayloadHandler[P]) -> PayloadHandler[P]:
            async def read(ctx: Context) -> None:
                assert isinstance(ctx.press, kind)
                await handler(ctx, ctx.press)

            table[kind.prefix] = Route(read, role, private, kind)
            return handler

        return register_kind

    def text(self, applies: FreeText) -> Callable[[TextHandler], TextHandler]:
        """Offer free text outside any form; the handler returns whether it took it."""

        def register(handler: TextHandler) -> TextHandler:
            self.texts.append(TextRoute(handler, applies))
            return handler

        return register

    def location(self) -> Callable[[Handler], Handler]:
        """A place the member shared: where they are now, so private like their data
        (in a group it is not read, only pointed to a private chat)."""

        def register(handler: Handler) -> Handler:
            self.locations.append(Route(handler, private=True))
            return handler

        return register

    def form(self, form: Form) -> Form:
        self.forms[form.name] = form
        return form

    def reminder(
        self,
        kind: str,
        *,
        urgent: bool = False,
        once_per_thing: bool = False,
        about_notice: bool = False,
        message_class: MessageClass = MessageClass.REMINDER,
        urgent_of: UrgentOf | None = None,
    ) -> Callable[[FanOut], FanOut]:
        """Declare a reminder kind (:mod:`bot.reminders`) with the fan-out it runs when due
        (``message_class``: how the sender ranks what it sends, :mod:`bot.delivery`)."""
        if ":" in kind:
            raise ValueError("a reminder kind has no colon")

        def register(fan_out: FanOut) -> FanOut:
            self.reminders[kind] = Kind(
                fan_out, urgent, once_per_thing, about_notice, message_class, urgent_of
            )
            return fan_out

        return register

    def audience(self, name: str, audience: Audience) -> None:
        """Declare a notice audience (:mod:`bot.audience`) this service knows the members of."""
        self.audiences[name] = audience

    def menu(self, label: str, payload: str, *, role: Role | None = None, order: int = 100) -> None:
        """Add an entry to the main menu; ``label`` is a message id."""
        self.menu_items.append(MenuItem(label, payload, role, order))
