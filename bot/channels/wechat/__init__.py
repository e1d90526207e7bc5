"""The WeChat Official Account channel: a verified, encrypted webhook that answers within
WeChat's 5 seconds, and proactive messages through the HTTP API.

A message is handled once however often WeChat retries it (``wechat_seen_messages``). The
reply goes back passively when the handler finishes within ``UNIONBOT_WECHAT_REPLY_SECONDS``;
otherwise WeChat gets ``success`` at once and the reply follows as a customer-service
message. Every other message takes the first route WeChat's quotas allow, counted in the
ledger (:mod:`bot.channels.wechat.quota`): a customer-service message (5 in the 48 hours
after the member's last message, 3 in the minute after a menu click, follow or scan), else
the template message of its kind (the account's daily quota), else the member's inbox
(``/inbox``) until the member writes again. An urgent message tries the template first.

An image (``Outgoing.image``, a file path) is uploaded as temporary media and sent as a
customer-service image message after the text: a passive reply holds one message only, and
the upload is network work that must not eat into WeChat's 5 seconds. Outside the window the
whole message (image included) waits in the inbox, even when a template carried its text.

Broadcasts go by mass send first (:meth:`WeChatChannel.send_bulk`, :mod:`.mass`), and
WeChat's ``MASSSENDJOBFINISH`` event brings back how each went.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from starlette import routing
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.channels.base import RateLimited, RecipientBlocked, Routed, TemporaryFailure
from bot.channels.wechat.api import (
    BLOCKED_ERRORS,
    BUSY_ERRORS,
    SLOW_DOWN_ERRORS,
    TEMPLATE_QUOTA_ERRORS,
    WINDOW_ERRORS,
    WeChatApi,
    WeChatApiError,
    http_failure,
)
from bot.channels.wechat.mass import MassSender
from bot.channels.wechat.quota import Ledger, template_fields
from bot.channels.wechat.render import Rendered, render
from bot.channels.wechat.seen import DatabaseSeen, RedisSeen, SeenStore
from bot.channels.wechat.webhook import MAX_BODY_BYTES, NAME, Received, Rejected, Verifier
from bot.i18n import Translator
from bot.messages import Incoming, Outgoing, storable
from bot.numbers import read_number
from storage import members, places, wechat, wechat_mass
from storage.models import Identity, Route
from storage.types import utcnow
from storage.wechat_quota import Slot

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

__all__ = ["NAME", "WeChatChannel"]

MEDIA_REUSE = timedelta(days=2)
"""An uploaded image's media_id is used again this long (WeChat keeps temporary media for
3 days), so a broadcast with one image uploads it once per process."""
MEDIA_CACHE_SIZE = 64
IMAGE_MAX_BYTES = 10 * 1024 * 1024
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")
"""WeChat takes PNG, JPEG and GIF images up to 10 MB; nothing else is read off the disk and
uploaded (a notice's image is a path an officer typed)."""
SUCCESS = "success"
EVENTS = frozenset({"start", "press"})
"""What WeChat counts as a menu click, follow or scan: 3 messages in the minute after."""
MESSAGES = frozenset({"text", "location", "media"})
"""What a member sends: 5 messages in the 48 hours after."""


@dataclass(frozen=True)
class Miss:
    """Why a route did not take a message: ``short`` for the inbox row (an errcode,
    ``window``...), ``why`` for the delivery's route reason."""

    short: str
    why: str
    customer_service: bool = False


class WeChatChannel:
    name = NAME
    takes_slots = True
    """Each message request takes the sender's pacer slot itself (:mod:`bot.pacing`)."""

    def __init__(self, app: App, api: WeChatApi | None = None) -> None:
        self.app = app
        self.settings = app.settings
        self.verifier = Verifier(app.settings)
        self.api = api or WeChatApi(app.settings, app.sessions)
        self.ledger = Ledger(app.sessions, app.settings.wechat_template_quota)
        self.rows = wechat.WebhookRows(app.dispatcher.state)
        self.seen: SeenStore = (
            RedisSeen(app.settings.redis_url) if app.settings.redis_url else DatabaseSeen(self.rows)
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._media: dict[str, tuple[str, datetime]] = {}
        """sha256 of an image's bytes -> (media_id, when it was uploaded)."""
        self.mass = MassSender(app, self.api)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, *, webhook: bool) -> None:
        if not webhook:
            log.warning(
                "WeChat delivers messages only to a webhook: run `unionbot serve` to serve "
                "WeChat members; this process only sends to them"
            )

    async def stop_intake(self) -> None:
        """Nothing to do: WeChat's messages come through ``serve``, which stops first."""

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=30)
        await self.api.close()
        await self.seen.close()

    def routes(self) -> list[routing.BaseRoute]:
        return [routing.Route("/wechat", self.webhook, methods=["GET", "POST"])]

    async def idle(self) -> None:
        """Wait until replies still being worked on have gone out (tests, shutdown)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    # -- the webhook -----------------------------------------------------------------------

    async def webhook(self, request: Request) -> Response:
        query = dict(request.query_params)
        try:
            self.verifier.check(query)
            if request.method == "GET":
                return PlainTextResponse(query.get("echostr", ""))
            received = self.verifier.receive(query, await _read_capped(request))
            if not received.encrypted:
                await self._take_signed_query(query, received)
        except Rejected as rejected:
            log.warning("WeChat webhook refused (%s): %s", rejected.status, rejected.reason)
            return PlainTextResponse(rejected.reason, status_code=rejected.status)
        if not await self.seen.first_sight(received.key):
            log.info("WeChat retry of %s ignored", received.key)
            return PlainTextResponse(SUCCESS)
        text = await self._answer(received)
        if text is None:
            return PlainTextResponse(SUCCESS)
        xml = self.verifier.reply_xml(received, text, query.get("nonce", ""))
        return Response(xml, media_type="application/xml")

    async def _take_signed_query(self, query: dict[str, str], received: Received) -> None:
        """Plain mode's signature covers the timestamp and nonce but not the body, so a
        signed query seen once (in a log, a proxy) could carry any body for the allowed
        age. Each (timestamp, nonce) is taken for one message only, in the same store as
        message keys, so every process and instance agrees; WeChat's retry of that same
        message passes here and is answered by the message-key check."""
        digest = hashlib.sha256(
            f"{query.get('timestamp', '')}\n{query.get('nonce', '')}".encode()
        ).hexdigest()[:32]
        signed, for_message = f"q:{digest}", f"q:{digest}:{received.key}"
        if await self.seen.first_sight(signed):
            await self.seen.first_sight(for_message)
        elif await self.seen.first_sight(for_message):
            raise Rejected(403, "signed query used before for another message")

    async def _answer(self, received: Received) -> str | None:
        """The passive reply's text, or None when the reply will follow through the API."""
        wrote_at = utcnow() if received.kind in MESSAGES else None
        work = self._spawn(self._handle(received))
        done, _ = await asyncio.wait({work}, timeout=self.settings.wechat_reply_seconds)
        if not done:
            log.info("WeChat handler for %s is slow; its reply will be pushed", received.key)
            self._spawn(self._push_when_done(received.openid, work, wrote_at))
            return None
        if work.exception() is not None:
            return None
        replies: list[Outgoing] = work.result()
        if not replies:
            return None
        rendered = await self._render(received.openid, replies, inbox_hint=True)
        first, rest = rendered.parts[0], rendered.parts[1:]
        images = [reply.image for reply in replies if reply.image]
        if rest or images:
            self._spawn(self._push_rest(received.openid, rest, images, wrote_at))
        return first or None

    async def _handle(self, received: Received) -> list[Outgoing]:
        try:
            return await self._dispatch(received)
        except Exception:
            log.exception("WeChat message %s failed", received.key)
            raise

    async def _dispatch(self, received: Received) -> list[Outgoing]:
        dispatcher = self.app.dispatcher
        probe = Incoming(NAME, received.openid, received.openid)
        if received.kind == "unsubscribe":
            async with self.app.sessions() as session, session.begin():
                identity = await wechat.identity(session, received.openid)
                if identity is not None:
                    await members.mark_inactive(session, identity.id)
            return []
        if received.kind == "mass_finished" and received.mass is not None:
            await self._reconcile(received)
            return []
        if received.kind == "media":
            t = await dispatcher.translator_for(probe)
            return [Outgoing(t("wechat.text_only"))]
        if received.kind == "located" and received.incoming is not None:
            await self._remember_place(received.openid, received.incoming)
            return []
        if received.incoming is None:
            return []
        opened = received.kind in EVENTS and await self._open_event(received.openid)
        replies = await dispatcher.handle(await self._pressed(received.incoming))
        if received.kind in EVENTS and not opened:
            await self._open_event(received.openid, follower=True)
        return replies

    async def _open_event(self, openid: str, *, follower: bool = False) -> bool:
        """A menu click, follow or scan opens the minute of 3 customer-service messages:
        recorded before the handler refreshes ``last_seen_at`` (a new follower's, after the
        handler made the member). False when there is no such member yet."""
        async with self.app.sessions() as session:
            identity = await wechat.identity(session, openid)
        if identity is None:
            return False
        if follower:
            await self.ledger.opened_by_new_follower(identity.id)
        else:
            await self.ledger.open_event(identity)
        return True

    async def _reconcile(self, received: Received) -> None:
        """WeChat's counts for one of our mass sends, kept with it (``/broadcasts``)."""
        mass = received.mass
        assert mass is not None
        counts = (mass.total, mass.filtered, mass.sent, mass.errors)
        async with self.app.sessions() as session, session.begin():
            known = await wechat_mass.finish(session, mass.msg_id, mass.status, counts, utcnow())
        if not known:
            log.warning("WeChat finished mass send %s, which is not one of ours", mass.msg_id)

    async def _remember_place(self, openid: str, incoming: Incoming) -> None:
        """WeChat's LOCATION event: kept silently as the member's last known place."""
        where = incoming.location
        assert where is not None
        async with self.app.sessions() as session, session.begin():
            member = await members.member_by_identity(session, NAME, openid)
            if member is not None:
                await places.remember(session, member.id, where.latitude, where.longitude, utcnow())

    async def _pressed(self, incoming: Incoming) -> Incoming:
        """A bare number presses that option of the last message (never inside a form,
        whose options are not stored, so the form reads the number)."""
        number = read_number(incoming.text or "", maximum=999)
        if number is None:
            return incoming
        payload = await self.rows.choice(incoming.user_id, number)
        if payload is None:
            return incoming
        return Incoming(NAME, incoming.user_id, incoming.chat_id, payload=payload)

    async def _push_when_done(
        self, openid: str, work: asyncio.Task[list[Outgoing]], wrote_at: datetime | None
    ) -> None:
        try:
            replies = await work
        except Exception:
            return
        if replies:
            await self._send_or_keep(openid, replies, inbox_hint=True, wrote_at=wrote_at)

    async def _push_rest(
        self, openid: str, parts: Sequence[str], images: Sequence[str], wrote_at: datetime | None
    ) -> None:
        """After a passive reply: the rest of a long text, then the images, as
        customer-service messages if the quota allows them all; else they wait in the inbox."""
        async with self.app.sessions() as session:
            identity = await wechat.identity(session, openid)
        if identity is None:
            return
        slot = await self.ledger.customer_service(identity, len(parts) + len(images), wrote_at)
        if isinstance(slot, str):
            log.info("the rest of a WeChat reply to %s waits in the inbox: %s", openid, slot)
            rest = [Outgoing(part) for part in parts] + [Outgoing("", image=i) for i in images]
            await self._keep_whole(identity, rest, "window")
            return
        try:
            refused = await self._push(identity, slot, parts, len(images))
        except Exception:
            log.exception("pushing the rest of a long WeChat reply to %s failed", openid)
            return
        if refused is None:
            await self._push_images(openid, images)

    async def _push_images(self, openid: str, images: Sequence[str]) -> None:
        """Upload each image and send it as a customer-service message. The text has gone
        already, so a missing file, a refusal or a network failure is logged and the
        message counts as delivered (trying it again would repeat the text)."""
        for image in images:
            try:
                media_id = await self._media_id(image)
                if media_id is not None:
                    await self.api.send_image(openid, media_id)
            except (WeChatApiError, httpx.HTTPError) as error:
                log.error("WeChat image %s to %s not sent: %s", image, openid, error)
            except Exception:
                log.exception("WeChat image %s to %s not sent", image, openid)

    async def _media_id(self, image: str) -> str | None:
        """The media_id of the image file, uploaded unless it was lately; None when the
        file cannot be read."""
        try:
            content = await asyncio.to_thread(_read_image, Path(image))
        except OSError as error:
            log.error("image %s not found; sending the text alone (%s)", image, error)
            return None
        except ValueError as error:
            log.error("image %s is %s; sending the text alone", image, error)
            return None
        digest = hashlib.sha256(content).hexdigest()
        now = utcnow()
        cached = self._media.get(digest)
        if cached is not None and now - cached[1] < MEDIA_REUSE:
            return cached[0]
        media_id = await self.api.upload_image(Path(image).name, content)
        self._media.pop(digest, None)
        while len(self._media) >= MEDIA_CACHE_SIZE:
            del self._media[next(iter(self._media))]
        self._media[digest] = (media_id, now)
        return media_id

    # -- proactive sending -----------------------------------------------------------------

    async def send_bulk(self, now: datetime) -> int:
        """The sender's bulk step, before its per-member sends: broadcasts by mass send."""
        return await self.mass.send_bulk(now)

    async def send(self, external_id: str, message: Outgoing) -> Routed | None:
        """Deliver ``message`` for the sender; returns the route it took and why.

        Raises :class:`RecipientBlocked` for an unsubscribed or blacklisted user,
        :class:`TemporaryFailure` when WeChat is unreachable or busy and
        :class:`RateLimited` over its per-minute quota (so it is tried again). A message
        no quota allows now waits in the inbox and counts as delivered. A message sent in
        parts that fails after its first part is sent whole when tried again.
        """
        return await self._send_or_keep(external_id, [message], raise_failures=True)

    async def _send_or_keep(
        self,
        openid: str,
        messages: list[Outgoing],
        *,
        raise_failures: bool = False,
        inbox_hint: bool = False,
        wrote_at: datetime | None = None,
    ) -> Routed | None:
        """By the first route WeChat's quotas allow (customer service, then the template of
        the message's kind; the template first for an urgent message), else the inbox.

        A network failure or WeChat being busy (-1) raises :class:`TemporaryFailure` for
        :meth:`send`, so the sender tries again later; a late reply to the member's own
        message waits in the inbox instead. An unsubscribed user raises
        :class:`RecipientBlocked` from :meth:`send` and is marked inactive otherwise.
        ``wrote_at`` is when the member's message this answers arrived, if it was one.
        """
        identity = await self._identity(openid)
        if identity is None:
            log.warning("no WeChat identity %s; message dropped", openid)
            return None
        try:
            return await self._route(identity, messages, inbox_hint, wrote_at)
        except (TemporaryFailure, RateLimited) as failure:
            if raise_failures:
                raise
            log.warning("WeChat could not take a reply to %s: %s", openid, failure)
            why = "busy" if isinstance(failure.__cause__, WeChatApiError) else "network"
            return await self._keep(identity, messages, Miss(why, f"WeChat {why}"))
        except RecipientBlocked:
            if raise_failures:
                raise
            async with self.app.sessions() as session, session.begin():
                await members.mark_inactive(session, identity.id)
            return None

    async def _identity(self, openid: str) -> Identity | None:
        """Read as the core reads a message's identity: one statement, no transaction (a
        session's took 1 ms of CPU a send on SQLite, 0.13 ms this way)."""
        found = await self.app.dispatcher.state.read(None, NAME, openid, openid)
        return found.identity() if found is not None else None

    async def _route(
        self,
        identity: Identity,
        messages: list[Outgoing],
        inbox_hint: bool,
        wrote_at: datetime | None,
    ) -> Routed:
        """Raises :class:`RecipientBlocked`, or :class:`TemporaryFailure` or
        :class:`RateLimited` when worth retrying."""
        urgent = any(m.urgent for m in messages)
        order = (Route.TEMPLATE, Route.CUSTOMER_SERVICE)
        misses: list[Miss] = []
        for route in order if urgent else reversed(order):
            if route is Route.TEMPLATE:
                outcome = await self._by_template(identity, messages)
            else:
                outcome = await self._by_customer_service(identity, messages, inbox_hint, wrote_at)
            if isinstance(outcome, Routed):
                return outcome
            misses.append(outcome)
        return await self._keep(identity, messages, *misses)

    async def _by_customer_service(
        self,
        identity: Identity,
        messages: list[Outgoing],
        inbox_hint: bool,
        wrote_at: datetime | None,
    ) -> Routed | Miss:
        openid = identity.external_id
        rendered = await self._render(openid, messages, inbox_hint=inbox_hint)
        parts = [part for part in rendered.parts if part]
        images = [m.image for m in messages if m.image]
        slot = await self.ledger.customer_service(identity, len(parts) + len(images), wrote_at)
        if isinstance(slot, str):
            return Miss("window", slot, customer_service=True)
        refused = await self._push(identity, slot, parts, len(images))
        if refused is not None:
            return refused
        await self._push_images(openid, images)
        return Routed(Route.CUSTOMER_SERVICE, f"customer_service: {slot.reason}")

    async def _push(
        self, identity: Identity, slot: Slot, parts: Sequence[str], after: int
    ) -> Miss | None:
        """Send ``parts`` on ``slot`` (reserved for them and ``after`` images); a refusal
        is returned, a failure raised, and what surely did not go out is given back."""
        sent = 0
        try:
            for part in parts:
                await _call(self.api.send_text(identity.external_id, part))
                sent += 1
        except WeChatApiError as error:
            log.warning("WeChat refused a message to %s: %s", identity.external_id, error)
            if error.errcode in WINDOW_ERRORS:
                await self.ledger.spend_all(identity, slot)
            else:
                await self.ledger.give_back(identity, slot, len(parts) - sent + after)
            why = f"customer service refused ({error.errcode})"
            return Miss(str(error.errcode), why, customer_service=True)
        except (TemporaryFailure, RateLimited, RecipientBlocked) as failure:
            unknown = isinstance(failure, TemporaryFailure) and not isinstance(
                failure.__cause__, WeChatApiError
            )
            await self.ledger.give_back(identity, slot, len(parts) - sent - unknown + after)
            raise
        return None

    async def _by_template(self, identity: Identity, messages: list[Outgoing]) -> Routed | Miss:
        kind = next((str(m.kind) for m in messages if m.kind), None)
        named = f"kind {kind}" if kind else "this message"
        template = self.settings.wechat_template(kind)
        carried = template_fields(messages)
        if not template or carried is None:
            return Miss("window", f"no template for {named}")
        left = await self.ledger.template(identity)
        if left is None:
            return Miss("template quota", "template quota used up today")
        openid = identity.external_id
        try:
            await _call(self.api.send_template(openid, template, carried.fields, carried.url))
        except WeChatApiError as error:
            log.warning("WeChat refused a template message to %s: %s", openid, error)
            if error.errcode in TEMPLATE_QUOTA_ERRORS:
                await self.ledger.templates_spent()
            else:
                await self.ledger.give_back_template(identity)
            return Miss(f"template {error.errcode}", f"template refused ({error.errcode})")
        except (TemporaryFailure, RateLimited, RecipientBlocked) as failure:
            if not isinstance(failure, TemporaryFailure) or isinstance(
                failure.__cause__, WeChatApiError
            ):
                await self.ledger.give_back_template(identity)
            raise
        reason = f"template: {kind or 'default'} template, {left} left today"
        if not carried.complete:
            await self._keep_whole(identity, messages, "template")
            reason += "; whole message in /inbox"
        return Routed(Route.TEMPLATE, reason)

    async def _keep(
        self, identity: Identity, messages: Sequence[Outgoing], *misses: Miss
    ) -> Routed:
        """Into the inbox, saying why no route took the messages."""
        short = next((m.short for m in misses if m.customer_service), misses[0].short)
        log.info("WeChat message for %s kept in the inbox: %s", identity.external_id, short)
        await self._keep_whole(identity, messages, short)
        return Routed(Route.INBOX, "inbox: " + ", ".join(m.why for m in misses))

    async def _keep_whole(
        self, identity: Identity, messages: Sequence[Outgoing], reason: str
    ) -> None:
        async with self.app.sessions() as session, session.begin():
            for message in messages:
                await wechat.keep_in_inbox(session, identity.id, storable(message), reason)

    async def _render(
        self, openid: str, messages: Sequence[Outgoing], *, inbox_hint: bool = False
    ) -> Rendered:
        """The text in the member's language, remembering its numbered options (written only
        when they differ from the last ones); a reply to the member's own message also says
        how many messages wait in their inbox."""
        shown = await self.rows.shown(openid)
        t = self._translator(shown.language)
        if inbox_hint and shown.waiting:
            messages = [*messages, Outgoing(t("wechat.inbox_waiting", count=shown.waiting))]
        rendered = render(messages, t)
        if rendered.payloads != shown.choices:
            await self.rows.save_choices(openid, rendered.payloads, utcnow())
        return rendered

    def _translator(self, language: str | None) -> Translator:
        translations = self.app.dispatcher.translations
        return translations[language or self.settings.default_language]

    def _spawn(self, work: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _read_image(path: Path) -> bytes:
    if path.stat().st_size > IMAGE_MAX_BYTES:
        raise ValueError("larger than WeChat's 10 MB")
    with path.open("rb") as file:
        content = file.read(IMAGE_MAX_BYTES + 1)
    if len(content) > IMAGE_MAX_BYTES or not content.startswith(IMAGE_MAGIC):
        raise ValueError("not a PNG, JPEG or GIF image")
    return content


async def _call(request: Awaitable[None]) -> None:
    """Await one API call, turning WeChat's answers into the channel's exceptions:
    :class:`RecipientBlocked` for an unsubscribed or blacklisted user,
    :class:`TemporaryFailure` for "system busy" (-1), a server error or no answer at all,
    :class:`RateLimited` for calls over the per-minute quota (45011).
    Other refusals are left as :class:`WeChatApiError` for the caller to judge."""
    try:
        await request
    except WeChatApiError as error:
        if error.errcode in BLOCKED_ERRORS:
            raise RecipientBlocked(str(error)) from error
        if error.errcode in BUSY_ERRORS:
            raise TemporaryFailure(str(error)) from error
        if error.errcode in SLOW_DOWN_ERRORS:
            raise RateLimited(SLOW_DOWN_ERRORS[error.errcode]) from error
        raise
    except httpx.HTTPError as error:
        raise TemporaryFailure(f"WeChat unreachable: {http_failure(error)}") from error


async def _read_capped(request: Request) -> bytes:
    declared = request.headers.get("content-length", "0")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise Rejected(400, "body too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise Rejected(400, "body too large")
    return bytes(body)
