"""What a handler is given: the message, the member, their roles and language, a database
session, and ways to reply or to message another member.

The session is opened when a handler first touches :attr:`Context.session`, in the
message's own transaction: most messages (a form's next step, the menu) need none, and the
ORM costs more than the rest of the message (:mod:`storage.message_state`).

Replies are collected here and sent once the message's transaction commits; messages to
others become outbox rows in that same transaction (:mod:`bot.delivery`), so a failed
handler sends nothing it did not save, and a crash after the commit loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import instance_state

from bot.i18n import Translator
from bot.messages import Button, Incoming, Outgoing
from bot.payloads import Payload
from bot.settings import Settings
from storage import members
from storage.message_state import Dialog, Found
from storage.models import Identity, Member, Role
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.dispatcher import Dispatcher

MessageBuilder = Callable[[Translator], Outgoing]
"""Builds a message for another member in that member's language."""


class Roles:
    """A member's roles; ``admin`` passes every check, scoped roles name their scope."""

    def __init__(self, grants: list[tuple[str, str]]) -> None:
        self._grants = grants

    def has(self, role: Role, scope: str | None = None) -> bool:
        if role is Role.MEMBER:
            return True
        if any(granted == Role.ADMIN for granted, _ in self._grants):
            return True
        return any(
            granted == role and (scope is None or granted_scope == scope)
            for granted, granted_scope in self._grants
        )

    def scopes(self, role: Role) -> list[str]:
        """The enterprises (chair) or units (unit_staff) this member holds ``role`` for."""
        return [scope for granted, scope in self._grants if granted == role]


@dataclass
class Context:
    message: Incoming
    open_session: Callable[[], AsyncSession] = field(repr=False)
    settings: Settings
    t: Translator
    dispatcher: Dispatcher
    dialog: Dialog | None = None
    """This chat's open form, stored by the dispatcher when the message commits."""
    args: str = ""
    press: Payload | None = None
    """The pressed button's or followed link's payload, read for a route of a payload kind."""
    replies: list[Outgoing] = field(default_factory=list)
    outbox: list[tuple[int, MessageBuilder]] = field(default_factory=list)
    scheduled: list[tuple[str, int, datetime]] = field(default_factory=list)
    cancelled: list[tuple[str, int]] = field(default_factory=list)
    stored: Found | None = field(default=None, repr=False)
    """The rows the message found (None for a new member)."""
    _member: Member | None = None
    _identity: Identity | None = None
    _roles: Roles | None = None
    _session: AsyncSession | None = None

    @property
    def member(self) -> Member:
        if self._member is None:
            assert self.stored is not None
            self._member = self.stored.member()
        return self._member

    @member.setter
    def member(self, member: Member) -> None:
        self._member = member

    @property
    def identity(self) -> Identity:
        if self._identity is None:
            assert self.stored is not None
            self._identity = self.stored.identity()
        return self._identity

    @property
    def member_id(self) -> int:
        """The member's id, without making the member an ORM object."""
        if self._member is None and self.stored is not None:
            member_id: int = self.stored.member_values["id"]
            return member_id
        return self.member.id

    def changed_outside_session(self) -> bool:
        """Whether a handler changed the member or identity without opening a session."""
        objects: list[Member | Identity] = [
            o for o in (self._member, self._identity) if o is not None
        ]
        return self._session is None and any(instance_state(o).modified for o in objects)

    def back_to_stored(self) -> None:
        """The member and identity as stored (a handler's changes to them rolled back)."""
        if self.stored is not None:
            self._member = self._identity = None

    @property
    def session(self) -> AsyncSession:
        """The ORM session, in this message's transaction, holding :attr:`member` and
        :attr:`identity`; opened on first use."""
        if self._session is None:
            self._session = self.open_session()
            self._session.add_all([self.identity, self.member])
        return self._session

    @property
    def has_session(self) -> bool:
        return self._session is not None

    def forget_session(self) -> None:
        """Forget the session (closed, its transaction rolled back)."""
        self._session = None

    async def roles(self) -> Roles:
        if self._roles is None:
            self._roles = Roles(await members.role_grants(self.session, self.member.id))
        return self._roles

    def reply(
        self,
        text: str,
        buttons: tuple[tuple[Button, ...], ...] = (),
        image: str | None = None,
        *,
        replaces_menu: bool = False,
    ) -> None:
        self.replies.append(Outgoing(text, buttons, image, replaces_menu))

    def answer(self, message: Outgoing) -> None:
        self.replies.append(message)

    def send(self, member_id: int, build: MessageBuilder) -> None:
        """Message another member, in their own language, through the outbox (written with
        this message's changes)."""
        self.outbox.append((member_id, build))

    async def relay(
        self, kind: str, thing_id: int, since: int, audience: Select[tuple[int]]
    ) -> None:
        """Tell ``audience`` (a query of member ids) what happens live, at any size: see
        :meth:`bot.delivery.Outbox.write_live`."""
        outbox = self.dispatcher.outbox
        await outbox.write_live(self.session, kind, thing_id, since, audience, utcnow())

    def schedule(self, kind: str, thing_id: int, when: datetime) -> None:
        """Schedule a reminder (see :mod:`bot.reminders`) once this message commits."""
        self.scheduled.append((kind, thing_id, when))

    def cancel_reminders(self, kind: str, thing_id: int) -> None:
        """Remove a thing's reminder jobs once this message commits."""
        self.cancelled.append((kind, thing_id))
