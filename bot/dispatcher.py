"""The core's one entry point: an incoming message in, the replies out.

Each message is handled on one database connection, in at most one transaction: the
member, their roles and the chat's dialog state are read in one round trip
(:mod:`storage.message_state`), the matching route runs, and what changed commits together.
A handler opens the ORM session only by using it; a message that changes nothing (a menu,
a refused button) writes nothing and opens no transaction, and one that changes only the
dialog state (a form's next step) writes that one row. A handler that fails leaves nothing
written; the member gets an apology with a short reference that is also in the log.
Messages to other members are outbox rows written in that transaction (:mod:`bot.delivery`);
the replies go back to the channel after the commit.

A rule that says no (:class:`storage.refusals.Refused`, raised by a query or a handler) is
answered here with its reason: what the route wrote before refusing is rolled back, along
with its changes to the dialog state, the member, and the replies, messages and jobs it had
collected, while the rest of the message (the member's last-seen time, a new member) stands.
A button or deep link whose payload does not read as its route's kind gets the stale-button
answer.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bot import audience, dialogs, metrics
from bot.context import Context, Roles
from bot.delivery import MessageClass, Outbox
from bot.i18n import Translations, Translator
from bot.messages import MAX_TEXT_LENGTH, Button, Incoming, Outgoing, rows
from bot.payloads import BUTTON_SEPARATOR, LINK_SEPARATOR, candidates
from bot.reminders import Kind
from bot.router import CommandInfo, MenuItem, Route, Router, TextRoute
from bot.scheduler import Jobs
from bot.settings import Settings
from storage import members
from storage.message_state import Dialog, Found, MessageState
from storage.refusals import MessageId, Refused
from storage.types import utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

LAST_SEEN_PRECISION = timedelta(minutes=5)
"""Refresh an identity's last-seen time at most this often, to spare a write per message."""
MENU_COLUMNS = 2


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        translations: Translations,
        outbox: Outbox,
        routers: Iterable[Router],
        jobs: Jobs | None = None,
    ) -> None:
        self.settings = settings
        self.jobs = jobs or Jobs(settings)
        self.sessions = sessions
        self.engine: AsyncEngine = sessions.kw["bind"]
        self.state = MessageState(self.engine)
        self.translations = translations
        self.outbox = outbox
        self.routers = list(routers)
        self.commands: dict[str, Route] = {}
        self.buttons: dict[str, Route] = {}
        self.starts: dict[str, Route] = {}
        self.forms: dict[str, dialogs.Form] = {}
        self.texts: list[TextRoute] = []
        self.locations: list[Route] = []
        self.command_help: list[CommandInfo] = []
        self.menu_items: list[MenuItem] = []
        self.reminder_kinds: dict[str, Kind] = {}
        for router in self.routers:
            self._include(router)
        self.menu_items.sort(key=lambda item: item.order)
        self.texts.sort(key=lambda route: route.applies)

    def _include(self, router: Router) -> None:
        _merge(self.commands, router.commands, router.name)
        _merge(self.buttons, router.buttons, router.name)
        _merge(self.starts, router.starts, router.name)
        _merge(self.forms, router.forms, router.name)
        _merge(self.reminder_kinds, router.reminders, router.name)
        audience.install(router.audiences)
        self.texts += router.texts
        self.locations += router.locations
        self.command_help += router.command_help
        self.menu_items += router.menu_items

    async def handle(self, message: Incoming) -> list[Outgoing]:
        started = time.perf_counter()
        try:
            return await self._handle(message)
        finally:
            metrics.handled(message, started)

    async def _handle(self, message: Incoming) -> list[Outgoing]:
        if message.text is not None and len(message.text) > MAX_TEXT_LENGTH:
            t = await self.translator_for(message)
            return [
                Outgoing(t("input.too_long", maximum=MAX_TEXT_LENGTH, length=len(message.text)))
            ]
        ctx: Context | None = None
        try:
            async with self.engine.connect() as connection:
                try:
                    ctx, loaded = await self._context(connection, message)
                    await self._route_or_refuse(ctx, loaded)
                    await self._commit(connection, ctx, loaded)
                finally:
                    if ctx is not None and ctx.has_session:
                        await ctx.session.close()
        except Exception:
            reference = secrets.token_hex(4)
            metrics.FAILURES.labels(message.channel).inc()
            log.exception(
                "handling failed ref=%s channel=%s user=%s",
                reference,
                message.channel,
                message.user_id,
            )
            t = ctx.t if ctx is not None else self._translator(message.language)
            return [Outgoing(t("error.apology", reference=reference))]
        if ctx.has_session and self.outbox.written(ctx.session):
            self.outbox.wake()
        try:
            await self.jobs.apply(ctx.scheduled, ctx.cancelled)
        except Exception:
            log.exception("scheduling after message from %s failed", message.user_id)
        return ctx.replies

    async def _commit(self, connection: AsyncConnection, ctx: Context, loaded: _Loaded) -> None:
        """Store what the message changed, together: the handler's session, what it sent
        others, the last-seen time and the dialog state."""
        if ctx.outbox:
            await self._write_outbox(ctx)
        if ctx.changed_outside_session():
            ctx.session  # noqa: B018  (takes the member and identity into a session)
        if ctx.has_session:
            await ctx.session.flush()
        statements = [loaded.refresh] if loaded.refresh else []
        message = ctx.message
        dialog = self.state.dialog_write(
            loaded.dialog, ctx.dialog, ctx.member_id, message.channel, message.chat_id
        )
        if dialog is not None:
            statements.append(dialog)
        await self.state.write(connection, statements)
        if ctx.has_session:
            await ctx.session.commit()

    async def _write_outbox(self, ctx: Context) -> None:
        """What the handler sent others, as rows in its transaction."""
        await self.outbox.write(ctx.session, ctx.outbox, MessageClass.INTERACTIVE, utcnow())

    async def translator_for(self, message: Incoming) -> Translator:
        """The sender's language, read without creating a member (for refusals)."""
        async with self.sessions() as session:
            member = await members.member_by_identity(session, message.channel, message.user_id)
        return self._translator(member.language if member else message.language)

    def _translator(self, language: str | None) -> Translator:
        if language not in ("zh_CN", "en"):
            language = self.settings.default_language
        return self.translations[language]

    async def _context(
        self, connection: AsyncConnection, message: Incoming
    ) -> tuple[Context, _Loaded]:
        now = utcnow()

        def open_session() -> AsyncSession:
            return self.sessions(bind=connection)

        found = await self.state.read(connection, message.channel, message.user_id, message.chat_id)
        loaded = _Loaded(found)
        if found is None:
            session = open_session()
            identity, member = await members.create_member(
                session,
                message.channel,
                message.user_id,
                message.display_name or message.user_id,
                self._translator(message.language).language,
            )
            ctx = self._new_context(message, member.language, lambda: session, None)
            ctx.member, ctx._identity = member, identity
            ctx.session  # noqa: B018  (the new member's session is this message's)
            return ctx, loaded
        seen = found.identity_values
        if not seen["active"] or now - seen["last_seen_at"] > LAST_SEEN_PRECISION:
            loaded.refresh = self.state.refreshed(seen["id"], now)
        ctx = self._new_context(message, found.member_values["language"], open_session, found)
        ctx.dialog = found.dialog.copy() if found.dialog else None
        idle = timedelta(minutes=self.settings.form_idle_minutes)
        if ctx.dialog is not None and now - ctx.dialog.updated_at > idle:
            await dialogs.cancel_form(ctx)
            ctx.reply(ctx.t("form.expired"))
        return ctx, loaded

    def _new_context(
        self,
        message: Incoming,
        language: str,
        open_session: Callable[[], AsyncSession],
        found: Found | None,
    ) -> Context:
        return Context(
            message=message,
            open_session=open_session,
            settings=self.settings,
            t=self.translations[language],
            dispatcher=self,
            stored=found,
            _roles=Roles(found.grants if found else []),
        )

    async def _route_or_refuse(self, ctx: Context, loaded: _Loaded) -> None:
        kept = len(ctx.replies), len(ctx.outbox), len(ctx.scheduled), len(ctx.cancelled)
        had_dialog = ctx.dialog is not None
        had_session = ctx.has_session
        try:
            if had_session:
                async with ctx.session.begin_nested():
                    await self._route(ctx)
            else:
                await self._route(ctx)
        except Refused as refused:
            if not had_session and ctx.has_session:
                await ctx.session.close()
                ctx.forget_session()
            ctx.back_to_stored()
            ctx.dialog = loaded.dialog.copy() if had_dialog and loaded.dialog else None
            del ctx.replies[kept[0] :], ctx.outbox[kept[1] :]
            del ctx.scheduled[kept[2] :], ctx.cancelled[kept[3] :]
            values = {
                name: ctx.t(value) if isinstance(value, MessageId) else value
                for name, value in refused.values.items()
            }
            ctx.reply(ctx.t(refused.msgid, **values))

    async def _route(self, ctx: Context) -> None:
        message = ctx.message
        if message.text is not None and message.text.startswith("/"):
            await self._command(ctx, message.text)
        elif message.start is not None:
            await self._deep_link(ctx, message.start)
        elif message.payload is not None:
            await self._button(ctx, message.payload)
        elif message.location is not None and self.locations:
            await self._run(ctx, self.locations[0])
        elif message.text is not None and ctx.dialog is not None:
            await self._continue_form(ctx)
        elif message.text is not None and await self._offer_text(ctx):
            return
        else:
            await self.unknown(ctx)

    async def _command(self, ctx: Context, text: str) -> None:
        word, _, args = text[1:].partition(" ")
        name = word.split("@", 1)[0].lower()
        if name == "start" and args.strip():
            await self._deep_link(ctx, args.strip())
            return
        route = self.commands.get(name)
        if route is None:
            ctx.reply(ctx.t("input.unknown_command", command=word[:32]), self.menu_button(ctx))
            return
        ctx.args = args.strip()
        await self._run(ctx, route)

    async def _deep_link(self, ctx: Context, payload: str) -> None:
        found = _find(self.starts, payload, LINK_SEPARATOR)
        if found is None:
            ctx.reply(ctx.t("input.unknown_link"))
            await self.show_menu(ctx)
            return
        route, ctx.args = found
        await self._run(ctx, route)

    async def _button(self, ctx: Context, payload: str) -> None:
        if payload.partition(BUTTON_SEPARATOR)[0] == dialogs.FORM_PAYLOAD:
            if ctx.dialog is None:
                self.stale(ctx)
            else:
                await self._continue_form(ctx)
            return
        found = _find(self.buttons, payload, BUTTON_SEPARATOR)
        if found is None:
            self.stale(ctx)
            return
        route, ctx.args = found
        await self._run(ctx, route)

    async def _continue_form(self, ctx: Context) -> None:
        assert ctx.dialog is not None
        form = self.forms.get(ctx.dialog.form)
        if form is None:
            await dialogs.cancel_form(ctx)
            await self.unknown(ctx)
            return
        await dialogs.continue_form(ctx, form)

    async def _offer_text(self, ctx: Context) -> bool:
        for route in self.texts:
            if await route.handler(ctx):
                return True
        return False

    async def _run(self, ctx: Context, route: Route) -> None:
        if route.role is not None and not (await ctx.roles()).has(route.role):
            ctx.reply(ctx.t("role.refused", role=ctx.t(f"role.{route.role.value}")))
            return
        if route.private and ctx.message.is_group:
            ctx.reply(ctx.t("input.private_only"))
            return
        if route.kind is not None:
            ctx.press = route.kind.unpack(ctx.args)
            if ctx.press is None:
                self.stale(ctx)
                return
        await route.handler(ctx)

    def stale(self, ctx: Context) -> None:
        """A button or link that no longer means anything (old, forged or malformed)."""
        ctx.reply(ctx.t("input.stale_button"), self.menu_button(ctx))

    async def unknown(self, ctx: Context) -> None:
        ctx.reply(ctx.t("input.unknown"), self.menu_button(ctx))

    def menu_button(self, ctx: Context) -> tuple[tuple[Button, ...], ...]:
        return rows([Button(ctx.t("menu.button"), "menu")])

    async def show_menu(self, ctx: Context, *, replaces_menu: bool = False) -> None:
        roles = await ctx.roles()
        items = [i for i in self.menu_items if i.role is None or roles.has(i.role)]
        buttons = [Button(ctx.t(i.label), i.payload) for i in items]
        grid = [buttons[i : i + MENU_COLUMNS] for i in range(0, len(buttons), MENU_COLUMNS)]
        ctx.reply(ctx.t("menu.title"), rows(*grid), replaces_menu=replaces_menu)

    async def commands_for(self, ctx: Context) -> list[CommandInfo]:
        roles = await ctx.roles()
        return [c for c in self.command_help if c.role is None or roles.has(c.role)]


class _Loaded:
    """What the message found stored, to tell what it changed."""

    def __init__(self, found: Found | None) -> None:
        self.found = found
        self.dialog: Dialog | None = found.dialog if found else None
        self.refresh: tuple[str, tuple[Any, ...]] | None = None
        """The identity's last-seen update, when one is due."""


def _find(table: dict[str, Route], payload: str, separator: str) -> tuple[Route, str] | None:
    """The route for a payload, by its two-word prefix if one is registered, else its first."""
    for prefix, args in candidates(payload, separator):
        if prefix in table:
            return table[prefix], args
    return None


def _merge(table: dict[str, T], routes: dict[str, T], router: str) -> None:
    clash = table.keys() & routes.keys()
    if clash:
        raise ValueError(f"router {router} registers {sorted(clash)} again")
    table.update(routes)
