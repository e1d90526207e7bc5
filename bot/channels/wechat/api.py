"""WeChat's HTTP API with an async client: the shared access token, customer-service,
template and mass messages, temporary image media, the custom menu and parametric QR codes.

wechatpy's clients are synchronous, so the documented endpoints are called with httpx
against ``UNIONBOT_WECHAT_API_URL``. One access token serves every process: it lives in
``wechat_tokens`` and whoever finds it missing or about to expire fetches a new one while
holding that row's lock, so the others wait and then use it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.pacing import take_slot
from bot.settings import Settings
from storage import wechat
from storage.types import utcnow

log = logging.getLogger(__name__)

TOKEN_MARGIN = timedelta(minutes=5)
"""Fetch a new token this long before the old one expires (WeChat gives 7200 s)."""
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
"""Invalid or expired access_token: fetch a new one once and try again."""
BLOCKED_ERRORS = frozenset({43004, 43019})
"""The user unsubscribed (43004) or is blacklisted (43019)."""
BUSY_ERRORS = frozenset({-1})
"""WeChat's "system busy, try again later": a temporary failure."""
SLOW_DOWN_ERRORS = {45011: 60.0}
"""Calls over WeChat's per-minute quota (45011): wait this many seconds and try again."""
WINDOW_ERRORS = frozenset({45015, 45047})
"""Customer-service messages refused until the user writes again: outside the 48-hour
window (45015), or over the number allowed since their last message (45047). Retrying
later does not help; a template message or the inbox does."""
TEMPLATE_QUOTA_ERRORS = frozenset({45009})
"""The account's daily quota of the API (template messages) is reached: none until
midnight in Beijing."""
MASS_MAX = 10_000
MASS_MIN = 2
"""``message/mass/send`` takes 2 to 10,000 OpenIDs per call."""
MASS_SEEN = 45065
"""A mass send with this clientmsgid was taken before: the answer carries its msg_id."""
MASS_TOO_SOON = 45066
"""The same clientmsgid tried again within a minute: wait a minute."""
NO_MASS_QUOTA = 45028
"""No mass send quota left (each follower receives at most 4 a month)."""
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class WeChatApiError(Exception):
    def __init__(self, errcode: int, errmsg: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.data = data or {}
        """The whole answer, for the errors that carry more (45065 carries a msg_id)."""


class WeChatApi:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        client: httpx.AsyncClient | None = None,
    ) -> None:
        assert settings.wechat_app_id and settings.wechat_app_secret
        self.app_id = settings.wechat_app_id
        self._secret = settings.wechat_app_secret
        self._settings = settings
        self._sessions = sessions
        self._client = client or httpx.AsyncClient(
            base_url=settings.wechat_api_url.rstrip("/"), timeout=TIMEOUT
        )
        self._token: tuple[str, datetime] | None = None

    async def close(self) -> None:
        await self._client.aclose()

    async def access_token(self, *, rejected: str | None = None) -> str:
        """A valid token; ``rejected`` is one WeChat just refused, never handed out again."""
        now = utcnow()
        if self._token is not None:
            token, expires_at = self._token
            if token != rejected and expires_at - TOKEN_MARGIN > now:
                return token
        async with self._sessions() as session, session.begin():
            row = await wechat.lock_token(session, self.app_id, now)
            fresh = row.expires_at - TOKEN_MARGIN > now and row.access_token != rejected
            if not (row.access_token and fresh):
                row.access_token, row.expires_at = await self._fetch_token(now)
            self._token = (row.access_token, row.expires_at)
        return self._token[0]

    async def _fetch_token(self, now: datetime) -> tuple[str, datetime]:
        response = await self._client.get(
            "/cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": self.app_id,
                "secret": self._secret,
            },
        )
        data = _json(response)
        if "access_token" not in data:
            raise WeChatApiError(int(data.get("errcode", -1)), str(data.get("errmsg", "")))
        log.info("WeChat access_token fetched; valid %s s", data.get("expires_in"))
        return str(data["access_token"]), now + timedelta(seconds=int(data["expires_in"]))

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` as JSON with the access token; a refused token is renewed once."""
        return await self._with_token(lambda token: self._post(path, token, body))

    async def _with_token(
        self, request: Callable[[str], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        """Run ``request`` with the access token, once more with a new token if WeChat
        refuses it; an ``errcode`` in the answer raises :class:`WeChatApiError`."""
        token = await self.access_token()
        data = await request(token)
        if data.get("errcode") in TOKEN_ERRORS:
            log.info("WeChat refused the access_token (%s); fetching a new one", data["errcode"])
            token = await self.access_token(rejected=token)
            data = await request(token)
        errcode = int(data.get("errcode", 0) or 0)
        if errcode:
            raise WeChatApiError(errcode, str(data.get("errmsg", "")), data)
        return data

    async def _post(self, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._client.post(path, params={"access_token": token}, json=body)
        return _json(response)

    async def upload_image(self, filename: str, content: bytes) -> str:
        """Upload an image as temporary media (WeChat keeps it 3 days); returns its media_id."""

        async def upload(token: str) -> dict[str, Any]:
            response = await self._client.post(
                "/cgi-bin/media/upload",
                params={"access_token": token, "type": "image"},
                files={"media": (filename, content, _image_type(filename))},
            )
            return _json(response)

        data = await self._with_token(upload)
        if "media_id" not in data:
            raise WeChatApiError(-1, "the upload answer has no media_id")
        return str(data["media_id"])

    async def send_image(self, openid: str, media_id: str) -> None:
        """An image as a customer-service message (the same 48-hour window as text)."""
        await self._send(
            "/cgi-bin/message/custom/send",
            {"touser": openid, "msgtype": "image", "image": {"media_id": media_id}},
        )

    async def send_text(self, openid: str, text: str) -> None:
        """A customer-service message: only within 48 hours of the user's last message."""
        await self._send(
            "/cgi-bin/message/custom/send",
            {"touser": openid, "msgtype": "text", "text": {"content": text}},
        )

    async def send_template(
        self, openid: str, template_id: str, fields: dict[str, str], url: str | None = None
    ) -> None:
        """A template message: ``fields`` fill its ``{{name.DATA}}`` placeholders; ``url``
        is opened when the member taps it."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {name: {"value": value} for name, value in fields.items()},
        }
        if url:
            body["url"] = url
        await self._send("/cgi-bin/message/template/send", body)

    async def _send(self, path: str, body: dict[str, Any]) -> None:
        """A message to a member: the sender's pacer slot (:func:`bot.pacing.take_slot`) is
        taken right before each request, once the token is at hand."""

        async def paced(token: str) -> dict[str, Any]:
            await take_slot()
            return await self._post(path, token, body)

        await self._with_token(paced)

    async def send_mass_text(self, openids: Sequence[str], text: str, clientmsgid: str) -> int:
        """A mass text message to 2 to 10,000 followers; returns WeChat's msg_id, which
        its ``MASSSENDJOBFINISH`` event names. ``clientmsgid`` (at most 64 bytes) makes a
        repeated call harmless: WeChat answers it with the first call's msg_id (45065)."""
        assert MASS_MIN <= len(openids) <= MASS_MAX
        body = {
            "touser": list(openids),
            "msgtype": "text",
            "text": {"content": text},
            "send_ignore_reprint": 0,
            "clientmsgid": clientmsgid,
        }
        try:
            data = await self.call("/cgi-bin/message/mass/send", body)
        except WeChatApiError as error:
            if error.errcode == MASS_SEEN and "msg_id" in error.data:
                log.info("WeChat had taken mass send %s before", clientmsgid)
                return int(error.data["msg_id"])
            raise
        if "msg_id" not in data:
            raise WeChatApiError(-1, "the mass send answer has no msg_id")
        return int(data["msg_id"])

    async def create_menu(self, menu: dict[str, Any]) -> None:
        await self.call("/cgi-bin/menu/create", menu)

    async def create_qrcode(self, scene: str, *, expire_seconds: int | None) -> tuple[str, str]:
        """A parametric QR code for ``scene``; returns (ticket, the URL it encodes)."""
        body: dict[str, Any] = {
            "action_name": "QR_STR_SCENE" if expire_seconds else "QR_LIMIT_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}},
        }
        if expire_seconds:
            body["expire_seconds"] = expire_seconds
        data = await self.call("/cgi-bin/qrcode/create", body)
        return str(data["ticket"]), str(data.get("url", ""))

    async def qrcode_image(self, ticket: str) -> bytes:
        response = await self._client.get(
            self._settings.wechat_qrcode_url, params={"ticket": ticket}
        )
        response.raise_for_status()
        return response.content


def _image_type(filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower()
    return {"jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif"}.get(suffix, "image/png")


def http_failure(error: httpx.HTTPError) -> str:
    """What went wrong, without the request's URL: its query carries the access_token (and,
    fetching one, the AppSecret), and the text may be stored as a delivery's reason."""
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    return type(error).__name__


def _json(response: httpx.Response) -> dict[str, Any]:
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, dict):
        raise WeChatApiError(-1, "the answer is not a JSON object")
    return data
