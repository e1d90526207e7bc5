"""The Telegram channel, on python-telegram-bot's ``Application``; the only module importing it.

One entry handler turns every update (text, command, ``/start PAYLOAD``, pressed button,
shared location) into an :class:`~bot.messages.Incoming` for the dispatcher and renders each
:class:`~bot.messages.Outgoing` back:

- payload buttons become an inline keyboard, URL buttons open links, an image goes as a
  photo; a menu or page answering a pressed button edits that message in place;
- text goes as plain text (no parse mode), so nothing a member typed can turn into markup
  and nothing needs escaping; texts over Telegram's 4096-character limit are split on line
  boundaries;
- replies go to the chat and the forum topic (``message_thread_id``) they answer;
- a member who blocks the bot (``my_chat_member``: ``kicked``) is not messaged until they
  unblock it (``member``) or write;
- in groups the bot reads only commands addressed to it (``/cmd@botname``) and replies to
  its own messages; where the core answers that a route is private-only, the channel adds a
  button that opens a private chat with the same command (``?start=cmd-NAME``).

Messages to members who did not just write (:meth:`TelegramChannel.send`, called by the
sender, which paces them) are retried once after a 429's ``retry_after``; a second 429 is
reported as :class:`~bot.channels.base.RateLimited`, a network error or timeout as
:class:`~bot.channels.base.TemporaryFailure`, a 403 (the member blocked the bot) as
:class:`~bot.channels.base.RecipientBlocked`, and any other refusal by re-raising it. A
direct reply that fails so (a second 429, the network) goes to the outbox with the replies
after it, so what the handler committed (a check-in code, a receipt) still arrives.

``unionbot run`` polls (``getUpdates``); ``unionbot serve`` mounts ``POST /telegram``, which
takes only JSON updates of bounded size carrying the configured secret header, and calls
``setWebhook`` at start when ``UNIONBOT_TELEGRAM_WEBHOOK_URL`` is set.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import re
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import (
    BotCommand,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, BaseUpdateProcessor, ContextTypes, TypeHandler
from telegram.request import BaseRequest

from bot import nesting
from bot.channels.base import RateLimited, RecipientBlocked, StartFailed, TemporaryFailure
from bot.channels.limits import split_text
from bot.dispatcher import Dispatcher
from bot.messages import Button, Incoming, Location, Outgoing
from bot.pacing import take_slot
from bot.settings import LANGUAGES, Settings
from storage import members

log = logging.getLogger(__name__)

T = TypeVar("T")

NAME = "telegram"
WEBHOOK_PATH = "/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TEXT_LIMIT = 4096
"""Telegram's longest message text."""
CAPTION_LIMIT = 1024
"""Telegram's longest photo caption; a longer text follows the photo as a message."""
WEBHOOK_BODY_LIMIT = 1024 * 1024
"""Updates are a few kilobytes; anything over a megabyte is not from Telegram."""
PRIVATE_LINK_PREFIX = "cmd-"
"""``/start cmd-NAME`` in a private chat runs ``/NAME``: where a group points members."""
COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
BOT_COMMAND_LANGUAGES = {"zh_CN": "zh", "en": "en"}
UPDATES = ["message", "callback_query", "my_chat_member"]
"""``my_chat_member`` says when a member blocks the bot (``kicked``) or unblocks it."""


class PerChatOrder(BaseUpdateProcessor):
    """Runs updates from different chats at the same time, each chat's in the order sent.

    PTB's default handles one update at a time, so one officer's broadcast (paced to
    Telegram's 30 messages a second) would hold up every member; running everything at
    once could take two quick answers to the same form out of order.
    """

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._chats: dict[int, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock, users = self._chats.get(chat.id, (asyncio.Lock(), 0))
        self._chats[chat.id] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._chats[chat.id]
            if users == 1:
                del self._chats[chat.id]
            else:
                self._chats[chat.id] = (lock, users - 1)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


class TelegramChannel:
    name = NAME
    takes_slots = True
    """Each request takes the sender's pacer slot itself (:mod:`bot.pacing`)."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        settings: Settings,
        *,
        request: BaseRequest | None = None,
        poll_timeout: int = 10,
    ) -> None:
        if not settings.telegram_token:
            raise ValueError("the Telegram channel needs UNIONBOT_TELEGRAM_TOKEN")
        # httpx logs each request's URL at INFO, and a Bot API URL carries the token.
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.root.level))
        self.dispatcher = dispatcher
        self.settings = settings
        self.poll_timeout = poll_timeout
        root = settings.telegram_api_url.rstrip("/")
        builder = (
            Application.builder()
            .token(settings.telegram_token)
            .base_url(f"{root}/bot")
            .base_file_url(f"{root}/file/bot")
            .concurrent_updates(PerChatOrder())
        )
        if request is not None:
            builder = builder.request(request).get_updates_request(request)
        self.application = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self._polling = False
        self._private_only = {
            t("input.private_only"): t("telegram.continue_private")
            for t in (dispatcher.translations[language] for language in LANGUAGES)
        }
        """Each language's private-only refusal, and the label of the button it gets here."""

    @property
    def username(self) -> str:
        return self.application.bot.username

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self, *, webhook: bool) -> None:
        """Check the token (``getMe``), register the command menus, then poll unless
        ``webhook``. A rejected token or an unreachable API stops start-up."""
        if webhook and not self.settings.telegram_webhook_secret:
            raise StartFailed(
                "Telegram webhook needs UNIONBOT_TELEGRAM_WEBHOOK_SECRET (the secret_token "
                "given to setWebhook)"
            )
        try:
            await self.application.initialize()
        except InvalidToken as error:
            raise StartFailed(
                f"Telegram rejected UNIONBOT_TELEGRAM_TOKEN ({error}); check the token with "
                "@BotFather"
            ) from None
        except TelegramError as error:
            raise StartFailed(
                f"Telegram Bot API at {self.settings.telegram_api_url} not reachable: {error}"
            ) from None
        await self._register_commands()
        if webhook:
            if self.settings.telegram_webhook_url:
                await self._set_webhook(self.settings.telegram_webhook_url)
            log.info("Telegram @%s: webhook at %s", self.username, WEBHOOK_PATH)
            return
        await self.application.start()
        assert self.application.updater is not None
        await self.application.updater.start_polling(
            timeout=self.poll_timeout, allowed_updates=UPDATES
        )
        self._polling = True
        log.info("Telegram @%s: polling", self.username)

    async def _set_webhook(self, url: str) -> None:
        try:
            await self.application.bot.set_webhook(
                url, secret_token=self.settings.telegram_webhook_secret, allowed_updates=UPDATES
            )
        except TelegramError as error:
            raise StartFailed(f"Telegram refused UNIONBOT_TELEGRAM_WEBHOOK_URL: {error}") from None

    async def stop_intake(self) -> None:
        """Stop polling; updates being handled finish (PTB's ``Application.stop``)."""
        if self._polling:
            assert self.application.updater is not None
            await self.application.updater.stop()
            await self.application.stop()
            self._polling = False

    async def stop(self) -> None:
        """Stop polling and close the connections; stopping twice is harmless."""
        await self.stop_intake()
        await self.application.shutdown()

    async def _register_commands(self) -> None:
        """The ``/`` menu Telegram shows, per language; only commands every member has."""
        public = [c for c in self.dispatcher.command_help if c.role is None]
        bot = self.application.bot
        try:
            for language, code in BOT_COMMAND_LANGUAGES.items():
                t = self.dispatcher.translations[language]
                commands = [BotCommand(c.name, t(c.help)[:256]) for c in public]
                await bot.set_my_commands(commands, language_code=code)
                if language == self.settings.default_language:
                    await bot.set_my_commands(commands)
        except TelegramError as error:
            log.warning("Telegram command menu not registered: %s", error)

    # --- webhook ---------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [Route(WEBHOOK_PATH, self._webhook, methods=["POST"])]

    async def _webhook(self, request: Request) -> Response:
        secret = self.settings.telegram_webhook_secret or ""
        given = request.headers.get(SECRET_HEADER, "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            return PlainTextResponse("forbidden", 403)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return PlainTextResponse("JSON only", 415)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > WEBHOOK_BODY_LIMIT:
            return PlainTextResponse("too large", 413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > WEBHOOK_BODY_LIMIT:
                return PlainTextResponse("too large", 413)
        try:
            data = nesting.json_loads(body)
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except ValueError as error:
            log.info("Telegram webhook: not an update: %s", error)
            return PlainTextResponse("bad update", 400)
        try:
            update = Update.de_json(data, self.application.bot)
        except Exception as error:
            # Telegram sent it (the secret matched) but PTB cannot read it: answering with
            # an error would only make Telegram send it again and again.
            log.warning(
                "Telegram webhook: update %s not understood, dropped: %s",
                data.get("update_id"),
                type(error).__name__,
            )
            return PlainTextResponse("ok")
        processor = self.application.update_processor
        await processor.process_update(update, self.application.process_update(update))
        return PlainTextResponse("ok")

    # --- updates in ------------------------------------------------------------------------

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.my_chat_member is not None:
            await self._reachability(update.my_chat_member)
            return
        translated = self._incoming(update)
        query = update.callback_query
        if translated is None:
            if query is not None:
                await self._answer(query)
            return
        incoming, private_link = translated
        replies = await self.dispatcher.handle(incoming)
        if query is not None:
            await self._answer(query)
        pressed = (
            query.message if query is not None and isinstance(query.message, Message) else None
        )
        if incoming.is_group:
            replies = [self._point_to_private(r, private_link) for r in replies]
        await self._render(incoming, replies, pressed, _topic(update))

    async def _reachability(self, changed: ChatMemberUpdated) -> None:
        """A member blocked the bot (``kicked``) or unblocked it (``member``) in their
        private chat: stop sending to them, or start again."""
        if changed.chat.type != ChatType.PRIVATE:
            return
        status = changed.new_chat_member.status
        if status not in (ChatMemberStatus.BANNED, ChatMemberStatus.MEMBER):
            return
        reachable = status == ChatMemberStatus.MEMBER
        async with self.dispatcher.sessions() as session, session.begin():
            await members.set_reachable(session, NAME, str(changed.from_user.id), reachable)
        log.info("a Telegram member %s the bot", "unblocked" if reachable else "blocked")

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("Telegram update failed: %s", context.error, exc_info=context.error)

    def _incoming(self, update: Update) -> tuple[Incoming, str] | None:
        """The core message for an update, and the deep link that would continue it in a
        private chat; ``None`` for what the bot ignores."""
        query = update.callback_query
        if query is not None:
            if query.data is None:
                return None
            chat = query.message.chat if query.message is not None else None
            user = query.from_user
            return (
                Incoming(
                    channel=NAME,
                    user_id=str(user.id),
                    chat_id=str(chat.id if chat is not None else user.id),
                    payload=query.data,
                    display_name=user.full_name,
                    language=_language(user.language_code),
                    is_group=chat is not None and chat.type != ChatType.PRIVATE,
                ),
                PRIVATE_LINK_PREFIX + "menu",
            )
        message = update.message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return None
        user = message.from_user
        group = message.chat.type != ChatType.PRIVATE
        to_me = self._replies_to_me(message)
        fields: dict[str, Any] = {}
        link = PRIVATE_LINK_PREFIX + "menu"
        if message.text is not None and message.text.startswith("/"):
            command = self._command(message.text, group=group, to_me=to_me)
            if command is None:
                return None
            fields, link = command
        elif group and not to_me:
            return None
        elif message.location is not None:
            fields["location"] = Location(message.location.latitude, message.location.longitude)
        elif message.text is not None:
            fields["text"] = message.text
        return (
            Incoming(
                channel=NAME,
                user_id=str(user.id),
                chat_id=str(message.chat.id),
                display_name=user.full_name,
                language=_language(user.language_code),
                is_group=group,
                **fields,
            ),
            link,
        )

    def _command(self, text: str, *, group: bool, to_me: bool) -> tuple[dict[str, Any], str] | None:
        """``/name[@bot] [args]`` as core fields, or ``None`` when it is not for this bot:
        addressed to another bot, or unaddressed in a group."""
        word, *rest = text.split(maxsplit=1)
        args = rest[0].strip() if rest else ""
        name, _, addressee = word[1:].partition("@")
        name = name.lower()
        if addressee.lower() != self.username.lower() and (addressee or (group and not to_me)):
            return None
        if name == "start" and args:
            if args.startswith(PRIVATE_LINK_PREFIX) and not group:
                return {"text": "/" + args.removeprefix(PRIVATE_LINK_PREFIX)}, args
            return {"start": args}, args
        link = PRIVATE_LINK_PREFIX + (name if COMMAND_NAME.match(name) else "menu")
        return {"text": f"/{name} {args}".rstrip()}, link

    def _replies_to_me(self, message: Message) -> bool:
        replied = message.reply_to_message
        return (
            replied is not None
            and replied.from_user is not None
            and replied.from_user.id == self.application.bot.id
        )

    def _point_to_private(self, message: Outgoing, link: str) -> Outgoing:
        """A private-only refusal in a group gets a button opening a private chat that
        carries on with ``link`` (``cmd-NAME`` runs ``/NAME`` there)."""
        label = self._private_only.get(message.text)
        if label is None:
            return message
        url = f"https://t.me/{self.username}?start={link}"
        button = Button(label, url=url)
        return Outgoing(message.text, (*message.buttons, (button,)), message.image)

    async def _answer(self, query: CallbackQuery) -> None:
        """Every pressed button is answered, or Telegram shows it loading for a while."""
        try:
            await query.answer()
        except TelegramError as error:
            log.info("Telegram answerCallbackQuery failed: %s", error)

    # --- messages out ----------------------------------------------------------------------

    async def send(self, external_id: str, message: Outgoing) -> None:
        """Message a member who did not just write; retried once after a 429.

        What Telegram answers, as the sender understands it:

        - a second 429 raises :class:`RateLimited` with Telegram's ``retry_after``;
        - a dropped connection or a timeout raises :class:`TemporaryFailure`;
        - a member who blocked the bot (403) or whose chat is gone raises
          :class:`RecipientBlocked`;
        - any other refusal (400: the message as it is) is re-raised as Telegram's
          ``BadRequest``: permanent, since sending it again would fail again; the sender
          records it with Telegram's reason.
        """
        try:
            await self._post(int(external_id), message)
        except RetryAfter as error:
            raise RateLimited(_seconds(error)) from error
        except Forbidden as error:
            raise RecipientBlocked(str(error)) from error
        except BadRequest as error:
            if "chat not found" in str(error).lower():
                raise RecipientBlocked(str(error)) from error
            log.warning("Telegram refused a message to %s: %s", external_id, error)
            raise
        except NetworkError as error:  # after BadRequest, which is one; TimedOut is one too
            raise TemporaryFailure(f"Telegram unreachable: {error}") from error

    async def _render(
        self,
        incoming: Incoming,
        replies: list[Outgoing],
        pressed: Message | None,
        topic: int | None = None,
    ) -> None:
        """The direct replies, in the chat and forum topic (``topic``) they answer."""
        chat_id = int(incoming.chat_id)
        for number, reply in enumerate(replies):
            if pressed is not None and reply.replaces_menu and await self._edit(pressed, reply):
                pressed = None
                continue
            try:
                await self._post(chat_id, reply, topic)
            except Forbidden as error:
                log.info("Telegram chat %s refuses messages: %s", chat_id, error)
                return
            except (RetryAfter, NetworkError) as error:
                if isinstance(error, BadRequest):
                    log.warning("Telegram refused a reply in chat %s: %s", chat_id, error)
                    continue
                log.warning("a reply in chat %s failed, kept in the outbox: %s", chat_id, error)
                await self.dispatcher.outbox.keep_replies(NAME, incoming.user_id, replies[number:])
                return

    async def _edit(self, pressed: Message, message: Outgoing) -> bool:
        """Show ``message`` in place of the pressed one; ``False`` when it cannot be."""
        if message.image or len(message.text) > TEXT_LIMIT:
            return False
        try:
            await _retry_once(
                lambda: pressed.edit_text(message.text, reply_markup=_keyboard(message.buttons))
            )
        except BadRequest as error:
            if "not modified" in str(error).lower():
                return True
            log.info("Telegram edit failed, sending instead: %s", error)
            return False
        return True

    async def _post(self, chat_id: int, message: Outgoing, topic: int | None = None) -> None:
        bot = self.application.bot
        markup = _keyboard(message.buttons)
        photo: str | Path | None = None
        image = message.image
        if image and image.startswith(("https://", "http://")):
            photo = image
        elif image:
            found: bool = await asyncio.to_thread(Path(image).is_file)
            if found:
                photo = Path(image)
            else:
                log.error("image %s not found; sending the text alone", image)
        if photo is not None:
            caption = message.text if len(message.text) <= CAPTION_LIMIT else None
            await _retry_once(
                lambda: bot.send_photo(
                    chat_id,
                    photo,
                    caption=caption,
                    reply_markup=markup if caption else None,
                    message_thread_id=topic,
                )
            )
            if caption is not None:
                return
        chunks = split_text(message.text, TEXT_LIMIT)
        for number, chunk in enumerate(chunks, 1):
            last = number == len(chunks)
            await _retry_once(
                lambda chunk=chunk, last=last: bot.send_message(  # type: ignore[misc]
                    chat_id, chunk, reply_markup=markup if last else None, message_thread_id=topic
                )
            )


async def _retry_once(call: Callable[[], Awaitable[T]]) -> T:
    """Honour a 429: wait the ``retry_after`` Telegram gave, then try once more. Each try
    takes the sender's pacer slot first (nothing outside the sender)."""
    try:
        await take_slot()
        return await call()
    except RetryAfter as error:
        seconds = _seconds(error)
        log.info("Telegram asked to wait %.0f s before sending", seconds)
        await asyncio.sleep(seconds)
        await take_slot()
        return await call()


def _seconds(error: RetryAfter) -> float:
    """The wait a 429 asks for, in seconds (PTB 22 gives an int or a timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


def _topic(update: Update) -> int | None:
    """The forum topic an update came from, where its replies belong (Telegram puts a
    message without ``message_thread_id`` in the forum's General topic)."""
    message = update.effective_message
    if message is None or not message.is_topic_message:
        return None
    return message.message_thread_id


@functools.lru_cache(maxsize=1024)
def _keyboard(buttons: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    """PTB's markup for ``buttons``, made once for each set (a form's step sends the same
    ones every time; PTB's objects are immutable, so messages can share one)."""
    keyboard = []
    for row in buttons:
        line = []
        for button in row:
            if button.url is not None:
                line.append(InlineKeyboardButton(button.label, url=button.url))
            elif button.payload is not None:
                line.append(InlineKeyboardButton(button.label, callback_data=button.payload))
        if line:
            keyboard.append(line)
    return InlineKeyboardMarkup(keyboard) if keyboard else None


def _language(code: str | None) -> str | None:
    """Telegram's language hint (``zh-hans``, ``en-GB``) as one of the bot's languages."""
    if not code:
        return None
    code = code.lower()
    if code.startswith("zh"):
        return "zh_CN"
    if code.startswith("en"):
        return "en"
    return None
