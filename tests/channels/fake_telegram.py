"""A small Bot API server on a free loopback port, for driving the real PTB stack in tests.

It answers what the bot uses (getMe, getUpdates with offset and long-poll timeout,
sendMessage, sendPhoto, editMessageText, editMessageReplyMarkup, answerCallbackQuery,
setMyCommands, setWebhook, getWebhookInfo, deleteWebhook), keeps every chat's messages as
the member would see them (edits change them in place) and every call as it was made, and
can be told to fail the next call of a method: ``429`` with ``retry_after``, ``403``
blocked, ``400`` "message is not modified" or "chat not found", a dropped connection, or a
slow answer. Members act through :meth:`say`, :meth:`press` and :meth:`share_location`,
which queue updates for ``getUpdates``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token"
BOT = {"id": 777, "is_bot": True, "first_name": "职工服务", "username": "union_test_bot"}
OUTBOUND = ("sendMessage", "sendPhoto", "editMessageText", "editMessageReplyMarkup")


@dataclass
class Sent:
    """One thing the bot did in a chat: a message sent, or one edited."""

    method: str
    chat_id: int
    message_id: int
    text: str
    buttons: list[list[dict[str, str]]] = field(default_factory=list)
    photo: bool = False

    def payloads(self) -> list[str]:
        return [b["callback_data"] for row in self.buttons for b in row if "callback_data" in b]

    def urls(self) -> list[str]:
        return [b["url"] for row in self.buttons for b in row if "url" in b]

    def labels(self) -> list[str]:
        return [b["text"] for row in self.buttons for b in row]


class FakeTelegram:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.port = 0
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.events: list[Sent] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.webhook: dict[str, Any] | None = None
        self.answered: list[str] = []
        self.blocked: set[int] = set()
        self.faults: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self._updates: list[dict[str, Any]] = []
        self._new_update = asyncio.Condition()
        self._changed = asyncio.Event()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        async with self._new_update:
            self._new_update.notify_all()  # ends a long poll still waiting
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what tests tell it ----------------------------------------------------------------

    def fail_next(self, method: str, kind: str, retry_after: int = 1) -> None:
        """Fail the next ``method`` call: ``retry_after`` (429), ``blocked`` (403),
        ``not_modified`` (400), ``bad_request`` (400), ``chat_not_found`` (400), ``drop``
        (close the connection unanswered) or ``slow`` (answer after ``retry_after`` seconds)."""
        self.faults[method].append((kind, retry_after))

    def message_update(
        self,
        user: int,
        text: str | None = None,
        *,
        chat: int | None = None,
        language: str = "zh-hans",
        reply_to: Sent | None = None,
        location: tuple[float, float] | None = None,
    ) -> dict[str, Any]:
        chat_id = chat if chat is not None else user
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": _user(user, language),
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                word = text.split(" ", 1)[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(word)}]
        if location is not None:
            message["location"] = {"latitude": location[0], "longitude": location[1]}
        if reply_to is not None:
            message["reply_to_message"] = self.messages[(reply_to.chat_id, reply_to.message_id)]
        return {"update_id": next(self._ids), "message": message}

    def press_update(
        self, user: int, on: Sent, payload: str, language: str = "zh-hans"
    ) -> dict[str, Any]:
        assert payload in on.payloads(), f"{payload} is not a button of {on.text!r}"
        return {
            "update_id": next(self._ids),
            "callback_query": {
                "id": str(next(self._ids)),
                "from": _user(user, language),
                "chat_instance": "1",
                "data": payload,
                "message": self.messages[(on.chat_id, on.message_id)],
            },
        }

    async def exchange(self, update: dict[str, Any], replies: int = 1) -> list[Sent]:
        """Queue ``update`` for getUpdates; wait for the bot to send or edit ``replies``
        messages in that chat, and return them."""
        chat = _chat_of(update)
        seen = len(self.events_in(chat))
        await self.push(update)
        await self.wait_for(lambda: len(self.events_in(chat)) >= seen + replies)
        return self.events_in(chat)[seen:]

    async def say(self, user: int, text: str, replies: int = 1, **kw: Any) -> list[Sent]:
        return await self.exchange(self.message_update(user, text, **kw), replies)

    async def press(self, user: int, on: Sent, payload: str, replies: int = 1) -> list[Sent]:
        return await self.exchange(self.press_update(user, on, payload), replies)

    async def push(self, update: dict[str, Any]) -> None:
        async with self._new_update:
            self._updates.append(update)
            self._new_update.notify_all()

    async def wait_for(self, condition: Any) -> None:
        """Wait until ``condition()`` holds, checking after each call the bot makes; a bot
        that never gets there fails the test after 15 seconds rather than hanging it."""
        async with asyncio.timeout(15):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    def events_in(self, chat: int) -> list[Sent]:
        return [e for e in self.events if e.chat_id == chat]

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    def current(self, sent: Sent) -> dict[str, Any]:
        """The message as the member sees it now, after any edits."""
        return self.messages[(sent.chat_id, sent.message_id)]

    # --- the API ---------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        params = await _params(request)
        self.calls.append((method, params))
        self._changed.set()
        if self.faults[method]:
            kind, retry_after = self.faults[method].pop(0)
            if kind == "drop":
                assert request.transport is not None
                request.transport.close()
                raise ConnectionResetError("dropped by the test")
            if kind == "slow":
                await asyncio.sleep(retry_after)  # then answers, too late for a short timeout
            else:
                return {
                    "retry_after": _error(
                        429, f"Too Many Requests: retry after {retry_after}", retry_after
                    ),
                    "blocked": _error(403, "Forbidden: bot was blocked by the user"),
                    "not_modified": _error(400, "Bad Request: message is not modified"),
                    "bad_request": _error(400, "Bad Request: message text is empty"),
                    "chat_not_found": _error(400, "Bad Request: chat not found"),
                }[kind]
        chat_id = int(params.get("chat_id", 0))
        if method in OUTBOUND and chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        handler = getattr(self, "_" + method, None)
        if handler is None:
            return _error(404, f"Not Found: method {method}")
        result = await handler(params)
        if isinstance(result, web.Response):
            return result
        self._changed.set()
        return web.json_response({"ok": True, "result": result})

    async def _getMe(self, params: dict[str, Any]) -> Any:
        return BOT

    async def _getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset", 0))
        timeout = float(params.get("timeout", 0))
        async with self._new_update:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if not self._updates and timeout:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new_update.wait(), timeout)
            return list(self._updates)

    async def _setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = params
        return True

    async def _getWebhookInfo(self, params: dict[str, Any]) -> Any:
        return {"url": (self.webhook or {}).get("url", ""), "pending_update_count": 0}

    async def _deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = None
        return True

    async def _setMyCommands(self, params: dict[str, Any]) -> Any:
        self.commands[params.get("language_code", "")] = params["commands"]
        return True

    async def _answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        self.answered.append(params["callback_query_id"])
        return True

    async def _sendMessage(self, params: dict[str, Any]) -> Any:
        return self._new_message("sendMessage", params, params["text"])

    async def _sendPhoto(self, params: dict[str, Any]) -> Any:
        return self._new_message("sendPhoto", params, params.get("caption", ""), photo=True)

    async def _editMessageText(self, params: dict[str, Any]) -> Any:
        return self._edit("editMessageText", params, params["text"])

    async def _editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        return self._edit("editMessageReplyMarkup", params, None)

    def _new_message(
        self, method: str, params: dict[str, Any], text: str, *, photo: bool = False
    ) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": BOT,
            "text": text,
        }
        if photo:
            message["photo"] = [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        self.messages[(chat_id, message["message_id"])] = message
        self.events.append(self._sent(method, message, photo))
        return message

    def _edit(self, method: str, params: dict[str, Any], text: str | None) -> Any:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        message = self.messages.get((chat_id, message_id))
        if message is None:
            return _error(400, "Bad Request: message to edit not found")
        new_text = message["text"] if text is None else text
        markup = params.get("reply_markup")
        if new_text == message["text"] and markup == message.get("reply_markup"):
            return _error(400, "Bad Request: message is not modified")
        message["text"] = new_text
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        self.events.append(self._sent(method, message, "photo" in message))
        return message

    @staticmethod
    def _sent(method: str, message: dict[str, Any], photo: bool) -> Sent:
        keyboard = message.get("reply_markup", {}).get("inline_keyboard", [])
        return Sent(
            method,
            message["chat"]["id"],
            message["message_id"],
            message["text"],
            keyboard,
            photo,
        )


async def _params(request: web.Request) -> dict[str, Any]:
    """PTB posts form fields, JSON-encoding the complex ones; files come as multipart."""
    if request.content_type == "application/json":
        data: dict[str, Any] = await request.json()
        return data
    form = await request.post()
    params: dict[str, Any] = {}
    for key, value in form.items():
        if not isinstance(value, str):
            params[key] = "<file>"
        elif key in ("reply_markup", "commands", "allowed_updates"):
            params[key] = json.loads(value)
        else:
            params[key] = value
    return params


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


def _chat(chat_id: int) -> dict[str, Any]:
    if chat_id < 0:
        return {"id": chat_id, "type": "supergroup", "title": "坎墩街道职工群"}
    return {"id": chat_id, "type": "private", "first_name": f"工友{chat_id}"}


def _user(user_id: int, language: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": f"工友{user_id}",
        "language_code": language,
    }


def _chat_of(update: dict[str, Any]) -> int:
    if "callback_query" in update:
        return int(update["callback_query"]["message"]["chat"]["id"])
    return int(update["message"]["chat"]["id"])
