"""Stand-ins for WeChat in tests: a fake API server on a free local port, and a client that
signs (and, in safe mode, encrypts) webhook requests the way WeChat's servers do."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import uvicorn
import xmltodict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from wechatpy.crypto import WeChatCrypto

from bot.app import App
from bot.channels.wechat import WeChatChannel
from bot.settings import Settings
from unionbot.app import build_app
from unionbot.web import create_web_app

APP_ID = "wx2c2769f8efd9abc2"
TOKEN = "spamtest"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
"""The token, key and app id of WeChat's published message-encryption samples."""
ACCOUNT = "gh_10f6c3c3ac5a"
PNG = b"\x89PNG\r\n\x1a\nfake"


@contextlib.asynccontextmanager
async def served(asgi: Any) -> AsyncIterator[str]:
    """Serve an ASGI app over real HTTP on a free port of 127.0.0.1, in this event loop."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(asgi, log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class FakeWeChat:
    """WeChat's API as far as the bot uses it; records every call."""

    secret: str = "app-secret"
    tokens_issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    sent: list[dict[str, Any]] = field(default_factory=list)
    templates: list[dict[str, Any]] = field(default_factory=list)
    menus: list[dict[str, Any]] = field(default_factory=list)
    qrcodes: list[dict[str, Any]] = field(default_factory=list)
    refuse: dict[str, int] = field(default_factory=dict)
    """openid -> errcode the customer-service endpoint answers for that user."""
    uploads: list[tuple[str, bytes]] = field(default_factory=list)
    """(file name, bytes) of every image uploaded as temporary media."""
    refuse_uploads: int = 0
    """errcode the media upload answers, when not 0."""
    refuse_once: dict[str, list[int]] = field(default_factory=dict)
    """openid -> errcodes the customer-service endpoint answers, one per call, before it
    takes messages for that user; an errcode of 500 answers HTTP 500 instead."""
    refused_calls: list[tuple[str, str, int]] = field(default_factory=list)
    """(``custom`` or ``template``, openid, errcode) of every call answered with an error."""

    # -- customer-service and template quotas (w14quota) ----------------------------------
    quotas: bool = False
    """Enforce WeChat's quotas: customer-service messages only within 48 hours of the
    member's last message (5 of them: 45015 outside, 45047 over) or within 1 minute of a
    menu click, follow or scan (3); template messages up to ``template_quota`` a day
    (45009). What the member does reaches the fake through :class:`WeChatServer`."""
    template_quota: int = 100_000
    clock: Callable[[], float] = time.time
    windows: dict[str, list[float]] = field(default_factory=dict)
    """openid -> [when the member last wrote, customer-service messages since]."""
    events: dict[str, list[float]] = field(default_factory=dict)
    """openid -> [the member's last click, follow or scan, customer-service messages since]."""
    templates_today: int = 0

    def member_wrote(self, openid: str) -> None:
        self.windows[openid] = [self.clock(), 0]

    def member_acted(self, openid: str) -> None:
        """A menu click, a follow or a scan."""
        self.events[openid] = [self.clock(), 0]

    def age(self, openid: str, seconds: float) -> None:
        """Move what ``openid`` did ``seconds`` into the past."""
        for allowance in (self.windows.get(openid), self.events.get(openid)):
            if allowance is not None:
                allowance[0] -= seconds

    def _customer_service_refusal(self, openid: str) -> int:
        """0 when WeChat takes one more customer-service message for ``openid`` (counted)."""
        if not self.quotas:
            return 0
        now = self.clock()
        event = self.events.get(openid)
        if event is not None and now - event[0] < 60 and event[1] < 3:
            event[1] += 1
            return 0
        window = self.windows.get(openid)
        if window is None or now - window[0] >= 48 * 3600:
            return 45047 if event is not None and now - event[0] < 60 else 45015
        if window[1] >= 5:
            return 45047
        window[1] += 1
        return 0

    def _template_refusal(self) -> int:
        if self.quotas and self.templates_today >= self.template_quota:
            return 45009
        self.templates_today += 1
        return 0

    # -- endpoints ------------------------------------------------------------------------
    mass: FakeMassSend = field(default_factory=lambda: FakeMassSend())

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/cgi-bin/token", self.token),
                Route("/cgi-bin/message/custom/send", self.custom_send, methods=["POST"]),
                Route("/cgi-bin/message/template/send", self.template_send, methods=["POST"]),
                Route("/cgi-bin/message/mass/send", self.mass_send, methods=["POST"]),
                Route("/cgi-bin/menu/create", self.menu_create, methods=["POST"]),
                Route("/cgi-bin/media/upload", self.media_upload, methods=["POST"]),
                Route("/cgi-bin/qrcode/create", self.qrcode_create, methods=["POST"]),
                Route("/showqrcode", self.showqrcode),
            ]
        )

    async def token(self, request: Request) -> JSONResponse:
        query = request.query_params
        if query.get("appid") != APP_ID or query.get("secret") != self.secret:
            return JSONResponse({"errcode": 40125, "errmsg": "invalid appsecret"})
        token = f"TOKEN-{len(self.tokens_issued) + 1}"
        self.tokens_issued.append(token)
        return JSONResponse({"access_token": token, "expires_in": 7200})

    def _valid(self, request: Request) -> bool:
        token = request.query_params.get("access_token", "")
        return token in self.tokens_issued and token not in self.revoked

    async def custom_send(self, request: Request) -> JSONResponse:
        if not self._valid(request):
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
        body = await request.json()
        once = self.refuse_once.get(body["touser"])
        if once:
            errcode = once.pop(0)
            if errcode == 500:
                return JSONResponse({}, status_code=500)
            self.refused_calls.append(("custom", body["touser"], errcode))
            return JSONResponse({"errcode": errcode, "errmsg": "refused once"})
        errcode = self.refuse.get(body["touser"], 0) or self._customer_service_refusal(
            body["touser"]
        )
        if errcode:
            self.refused_calls.append(("custom", body["touser"], errcode))
            return JSONResponse({"errcode": errcode, "errmsg": "refused"})
        self.sent.append(body)
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def template_send(self, request: Request) -> JSONResponse:
        if not self._valid(request):
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
        body = await request.json()
        errcode = self._template_refusal()
        if errcode:
            self.refused_calls.append(("template", body["touser"], errcode))
            return JSONResponse({"errcode": errcode, "errmsg": "reach max api daily quota limit"})
        self.templates.append(body)
        return JSONResponse({"errcode": 0, "errmsg": "ok", "msgid": len(self.templates)})

    async def mass_send(self, request: Request) -> JSONResponse:
        if not self._valid(request):
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
        return await self.mass.send(await request.json())

    async def menu_create(self, request: Request) -> JSONResponse:
        if not self._valid(request):
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
        self.menus.append(await request.json())
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def qrcode_create(self, request: Request) -> JSONResponse:
        if not self._valid(request):
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
        body = await request.json()
        self.qrcodes.append(body)
        scene = body["action_info"]["scene"]["scene_str"]
        return JSONResponse({"ticket": f"T-{scene}", "url": f"http://weixin.qq.com/q/{scene}"})

    async def media_upload(self, request: Request) -> JSONResponse:
        if not self._valid(request):
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
        if request.query_params.get("type") != "image":
            return JSONResponse({"errcode": 40004, "errmsg": "invalid media type"})
        if self.refuse_uploads:
            return JSONResponse({"errcode": self.refuse_uploads, "errmsg": "refused"})
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        form = BytesParser(policy=HTTP).parsebytes(head + await request.body())
        media = [
            part
            for part in form.iter_parts()
            if part.get_param("name", header="content-disposition") == "media"
        ]
        if len(media) != 1:
            return JSONResponse({"errcode": 41005, "errmsg": "media data missing"})
        content = media[0].get_payload(decode=True)
        assert isinstance(content, bytes)
        self.uploads.append((str(media[0].get_filename()), content))
        return JSONResponse(
            {"type": "image", "media_id": f"MEDIA-{len(self.uploads)}", "created_at": 1}
        )

    async def showqrcode(self, request: Request) -> Response:
        if not request.query_params.get("ticket", "").startswith("T-"):
            return Response(status_code=404)
        return Response(PNG, media_type="image/png")

    def texts_to(self, openid: str) -> list[str]:
        return [
            m["text"]["content"]
            for m in self.sent
            if m["touser"] == openid and m["msgtype"] == "text"
        ]

    def images_to(self, openid: str) -> list[str]:
        """The media_ids of the image customer-service messages to ``openid``."""
        return [
            m["image"]["media_id"]
            for m in self.sent
            if m["touser"] == openid and m["msgtype"] == "image"
        ]


# -- mass sends (message/mass/send and the MASSSENDJOBFINISH event) -----------------------


MASS_PER_MONTH = 4
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class FakeMassSend:
    """WeChat's mass send to OpenID lists, as strict as WeChat and stricter on one point.

    2 to 10,000 OpenIDs per call (40130 otherwise). A ``clientmsgid`` seen before is
    answered 45066 within a minute of its first call, then 45065 with that call's msg_id,
    and nothing is sent again. Each follower receives at most 4 mass sends a calendar
    month (Asia/Shanghai): a list holding one who had their 4 is refused whole with 45028
    (WeChat would filter them silently), so a test proves the bot never hands WeChat a
    follower with no mass send left. Once a job is taken, :meth:`finish_jobs` posts its
    ``MASSSENDJOBFINISH`` event to the bot's webhook, signed and encrypted as WeChat does.
    """

    clock: Callable[[], float] = time.time
    webhook: str = ""
    """The bot's base URL (set by :func:`wechat_bot`), where finish events are posted."""
    filtered: set[str] = field(default_factory=set)
    """OpenIDs WeChat filters out of every job (left, or refuse mass messages)."""
    failing: set[str] = field(default_factory=set)
    """OpenIDs a job fails to reach (its ErrorCount)."""
    stall: int = 0
    """The next this many jobs are taken, then answered only after ``stall_seconds``."""
    stall_seconds: float = 1.0
    calls: list[dict[str, Any]] = field(default_factory=list)
    """Every call's body, taken or refused."""
    jobs: list[dict[str, Any]] = field(default_factory=list)
    """Each job taken: its body, msg_id, counts and whether its finish event was posted."""
    received: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(openid, YYYYMM) -> mass sends received that month."""
    seen: dict[str, tuple[int, float]] = field(default_factory=dict)
    """clientmsgid -> (msg_id, time of its first call)."""

    def month(self) -> str:
        return datetime.fromtimestamp(self.clock(), SHANGHAI).strftime("%Y%m")

    async def send(self, body: dict[str, Any]) -> JSONResponse:
        self.calls.append(body)
        openids: list[str] = body.get("touser", [])
        clientmsgid = str(body.get("clientmsgid", ""))
        if len(clientmsgid.encode()) > 64:
            return JSONResponse({"errcode": 45067, "errmsg": "clientmsgid size out of limit"})
        if clientmsgid in self.seen:
            msg_id, first = self.seen[clientmsgid]
            if self.clock() - first < 60:
                return JSONResponse({"errcode": 45066, "errmsg": "retry after 1 minute"})
            return JSONResponse({"errcode": 45065, "errmsg": "clientmsgid exist", "msg_id": msg_id})
        if not 2 <= len(openids) <= 10_000 or len(set(openids)) != len(openids):
            return JSONResponse({"errcode": 40130, "errmsg": "invalid openid list size"})
        if body.get("msgtype") != "text" or not body.get("text", {}).get("content"):
            return JSONResponse({"errcode": 40008, "errmsg": "invalid message type"})
        month = self.month()
        if any(self.received[(openid, month)] >= MASS_PER_MONTH for openid in openids):
            return JSONResponse({"errcode": 45028, "errmsg": "has no masssend quota"})
        msg_id = 1_000_000_000 + len(self.jobs) + 1
        reached = [o for o in openids if o not in self.filtered]
        errors = sum(1 for o in reached if o in self.failing)
        for openid in reached:
            if openid not in self.failing:
                self.received[(openid, month)] += 1
        if clientmsgid:
            self.seen[clientmsgid] = (msg_id, self.clock())
        self.jobs.append(
            {
                "body": body,
                "msg_id": msg_id,
                "total": len(openids),
                "filtered": len(reached),
                "sent": len(reached) - errors,
                "errors": errors,
                "posted": False,
            }
        )
        if self.stall:
            self.stall -= 1
            await asyncio.sleep(self.stall_seconds)
        return JSONResponse(
            {"errcode": 0, "errmsg": "send job submission success", "msg_id": msg_id}
        )

    def texts_to(self, openid: str) -> list[str]:
        """The mass texts taken for ``openid`` (filtered or failing ones included)."""
        return [j["body"]["text"]["content"] for j in self.jobs if openid in j["body"]["touser"]]

    async def finish_jobs(self) -> list[httpx.Response]:
        """Post the finish event of every job taken since the last call, as WeChat does
        some minutes after it took them."""
        server = WeChatServer(self.webhook)
        answers = []
        try:
            for job in self.jobs:
                if not job["posted"]:
                    job["posted"] = True
                    answers.append(await server.post(finish_event_xml(job)))
        finally:
            await server.close()
        return answers


def finish_event_xml(job: dict[str, Any], status: str = "send success") -> str:
    """WeChat's MASSSENDJOBFINISH event (from its mass-send helper account, ``mphelper``)."""
    return message_xml(
        "mphelper",
        "event",
        Event="MASSSENDJOBFINISH",
        MsgID=str(job["msg_id"]),
        Status=status,
        TotalCount=str(job["total"]),
        FilterCount=str(job["filtered"]),
        SentCount=str(job["sent"]),
        ErrorCount=str(job["errors"]),
    )


def wechat_settings(settings: Settings, api_url: str, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "wechat_app_id": APP_ID,
        "wechat_app_secret": "app-secret",
        "wechat_token": TOKEN,
        "wechat_aes_key": AES_KEY,
        "wechat_api_url": api_url,
        "wechat_qrcode_url": api_url + "/showqrcode",
        "wechat_max_age": 0,
        "wechat_reply_seconds": 3.0,
    }
    values.update(changes)
    return settings.model_copy(update=values)


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def message_xml(openid: str, kind: str, created: int | None = None, **fields: str) -> str:
    created = created if created is not None else int(time.time())
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>{inner}</xml>"
    )


class WeChatServer:
    """Posts to a webhook as WeChat does: signed, and encrypted unless ``plain``; tells
    ``fake`` (if given) what the member did, for its quotas."""

    def __init__(
        self,
        base_url: str,
        *,
        plain: bool = False,
        token: str = TOKEN,
        fake: FakeWeChat | None = None,
    ) -> None:
        self.url = base_url + "/wechat"
        self.fake = fake
        self.plain = plain
        self.token = token
        self.crypto = WeChatCrypto(token, AES_KEY, APP_ID)
        self.client = httpx.AsyncClient(timeout=30)
        self._ids = 1000

    async def close(self) -> None:
        await self.client.aclose()

    def query(self, timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
        """A signed query with a fresh nonce, as WeChat makes one for each request."""
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or str(secrets.randbelow(10**10))
        return {
            "signature": sign(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
        }

    async def post_raw(self, body: bytes | str, query: dict[str, str]) -> httpx.Response:
        return await self.client.post(self.url, params=query, content=body)

    async def post(self, xml: str) -> httpx.Response:
        query = self.query()
        if self.plain:
            return await self.post_raw(xml, query)
        encrypted = xmltodict.parse(
            self.crypto.encrypt_message(xml, query["nonce"], query["timestamp"])
        )["xml"]
        envelope = (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted['Encrypt']}]]></Encrypt></xml>"
        )
        query.update(encrypt_type="aes", msg_signature=encrypted["MsgSignature"])
        return await self.post_raw(envelope, query)

    def reply_text(self, response: httpx.Response) -> str | None:
        """The text of a passive reply (decrypted), or None for ``success``."""
        assert response.status_code == 200, response.text
        if response.text in ("success", ""):
            return None
        xml = response.text
        if not self.plain:
            outer = xmltodict.parse(xml)["xml"]
            xml = self.crypto.decrypt_message(
                xml, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"]
            )
        reply = xmltodict.parse(xml)["xml"]
        assert reply["MsgType"] == "text"
        return str(reply["Content"])

    async def text(self, openid: str, content: str, msg_id: int | None = None) -> httpx.Response:
        self._ids += 1
        if self.fake is not None:
            self.fake.member_wrote(openid)
        return await self.post(
            message_xml(openid, "text", Content=content, MsgId=str(msg_id or self._ids))
        )

    async def event(
        self, openid: str, event: str, key: str = "", created: int | None = None
    ) -> httpx.Response:
        fields = {"Event": event}
        if key:
            fields["EventKey"] = key
        if self.fake is not None and event.lower() in ("subscribe", "scan", "click"):
            self.fake.member_acted(openid)
        return await self.post(message_xml(openid, "event", created, **fields))

    async def says(self, openid: str, content: str) -> str | None:
        return self.reply_text(await self.text(openid, content))


@contextlib.asynccontextmanager
async def wechat_bot(
    settings: Settings, fake: FakeWeChat, routers: list[Any] | None = None, **changes: Any
) -> AsyncIterator[tuple[App, WeChatChannel, str, str]]:
    """A bot with the WeChat channel on the test database, its webhook served over HTTP,
    talking to ``fake``; yields (app, channel, webhook base URL, fake API URL).

    ``routers`` (test services) come before the real ones, so their location handler is
    the one a shared location reaches."""
    async with served(fake.app()) as api_url:
        app = build_app(wechat_settings(settings, api_url, **changes))
        if routers:
            from tests.conftest import with_routers

            with_routers(app, *routers, first=True)
        channel = WeChatChannel(app)
        app.outbox.attach(channel)
        await channel.start(webhook=True)
        try:
            async with served(create_web_app(app, [channel])) as base:
                fake.mass.webhook = base
                yield app, channel, base, api_url
        finally:
            await channel.idle()
            await channel.stop()
            await app.close()
