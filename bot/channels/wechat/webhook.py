"""What WeChat posts to the webhook: verified, decrypted, parsed and mapped to the core.

The only module importing wechatpy. A request passes, in order: the signature (403), its
age against replays (403), the size cap (400), a strict XML check that refuses DOCTYPE and
entities (400), decryption in compatible and safe modes (403 for a wrong signature or
app id, 400 for garbage), and the mapping of its fields (400 when one is missing).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

import defusedxml.ElementTree
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from bot import nesting
from bot.messages import Incoming, Location
from bot.settings import Settings

NAME = "wechat"
MAX_BODY_BYTES = 64 * 1024
NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
"""Characters XML 1.0 does not allow even in CDATA: a reply holding one is not XML."""


class Rejected(Exception):
    """A request to refuse with ``status``; nothing in it is processed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class MassFinished:
    """WeChat's ``MASSSENDJOBFINISH`` event: how a mass send went. ``filtered`` is
    WeChat's FilterCount, the followers left to send to after its filtering (those who
    left, or had their mass sends for the month)."""

    msg_id: int
    status: str
    total: int
    filtered: int
    sent: int
    errors: int


@dataclass(frozen=True)
class Received:
    """A verified message: who sent it, the key that tells retries apart, and what it means.

    ``incoming`` is None for what the core does not take: ``kind`` then says why
    (``media`` earns the "text only" answer; ``unsubscribe`` and ``ignored`` get none).
    ``located`` (the LOCATION event WeChat sends on its own) carries a location that is
    kept as the member's last known place, with no answer. ``mass_finished`` carries
    ``mass``, the counts to reconcile.
    """

    openid: str
    account: str
    key: str
    kind: str
    incoming: Incoming | None
    encrypted: bool
    mass: MassFinished | None = None


class Verifier:
    def __init__(self, settings: Settings) -> None:
        assert settings.wechat_token and settings.wechat_app_id
        self.token = settings.wechat_token
        self.max_age = settings.wechat_max_age
        self.crypto = (
            WeChatCrypto(self.token, settings.wechat_aes_key, settings.wechat_app_id)
            if settings.wechat_aes_key
            else None
        )

    def check(self, query: dict[str, str]) -> None:
        """The plain signature WeChat adds to every request, and the timestamp's age."""
        try:
            check_signature(
                self.token,
                query.get("signature", ""),
                query.get("timestamp", ""),
                query.get("nonce", ""),
            )
        except InvalidSignatureException:
            raise Rejected(403, "bad signature") from None
        if self.max_age:
            try:
                age = abs(time.time() - int(query.get("timestamp", "")))
            except ValueError:
                raise Rejected(403, "bad timestamp") from None
            if age > self.max_age:
                raise Rejected(403, "timestamp too old")

    def receive(self, query: dict[str, str], body: bytes) -> Received:
        """Verify and decode a POSTed message (after :meth:`check`). Each XML document is
        parsed once, by the strict parser: the envelope's ``Encrypt`` goes to wechatpy's
        decryption, the message's fields to the mapping."""
        if len(body) > MAX_BODY_BYTES:
            raise Rejected(400, "body too large")
        root = _strict_xml(body)
        encrypted = query.get("encrypt_type", "raw").lower() == "aes"
        if encrypted:
            if self.crypto is None:
                raise Rejected(400, "encrypted message but no UNIONBOT_WECHAT_AES_KEY")
            envelope = _fields(root)
            if not envelope.get("Encrypt"):
                raise Rejected(400, "cannot decrypt")
            try:
                plain = self.crypto.decrypt_message(
                    {"Encrypt": envelope["Encrypt"]},
                    query.get("msg_signature", ""),
                    query.get("timestamp", ""),
                    query.get("nonce", ""),
                )
            except (InvalidSignatureException, InvalidAppIdException):
                raise Rejected(403, "bad message signature or app id") from None
            except Exception:
                raise Rejected(400, "cannot decrypt") from None
            root = _strict_xml(plain.encode("utf-8") if isinstance(plain, str) else plain)
        elif self.crypto is not None:
            # The plain-mode signature does not cover the body: with a key, insist on it.
            raise Rejected(403, "unencrypted message while UNIONBOT_WECHAT_AES_KEY is set")
        try:
            return _map(_fields(root), encrypted)
        except Rejected:
            raise
        except Exception:
            raise Rejected(400, "not a WeChat message") from None

    def reply_xml(self, received: Received, text: str, nonce: str) -> str:
        """The passive reply, well-formed whatever the text: wechatpy writes each field
        as ``<![CDATA[...]]>`` unescaped, so ``]]>`` would end the section early."""
        reply = TextReply(
            source=_cdata(received.account),
            target=_cdata(received.openid),
            content=_cdata(text),
        )
        xml: str = reply.render()
        if received.encrypted and self.crypto is not None:
            xml = self.crypto.encrypt_message(xml, nonce or "0", str(int(time.time())))
        return xml


def _cdata(text: str) -> str:
    """Text for inside a CDATA section: ``]]>`` split over two sections, characters XML
    forbids dropped."""
    return NOT_IN_XML.sub("", text).replace("]]>", "]]]]><![CDATA[>")


def _strict_xml(body: bytes) -> ElementTree.Element:
    lowered = body[:MAX_BODY_BYTES].lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise Rejected(400, "DOCTYPE or ENTITY in XML")
    try:
        root: ElementTree.Element = defusedxml.ElementTree.fromstring(body, forbid_dtd=True)
    except Exception:
        raise Rejected(400, "malformed XML") from None
    try:
        nesting.check_xml_depth(root)
    except nesting.TooDeep as error:
        raise Rejected(400, f"XML {error}") from None
    return root


def _fields(root: ElementTree.Element) -> dict[str, str]:
    """The fields of a WeChat ``<xml>`` document, by name, their text stripped (as
    wechatpy's parser reads them); a field given twice is refused."""
    if root.tag != "xml":
        raise Rejected(400, "not a WeChat message")
    fields: dict[str, str] = {}
    for child in root:
        if child.tag in fields:
            raise Rejected(400, "a field given twice")
        fields[child.tag] = (child.text or "").strip()
    return fields


MEDIA = frozenset({"image", "voice", "video", "shortvideo", "file", "link"})


def _map(data: dict[str, str], encrypted: bool) -> Received:
    openid = data["FromUserName"]
    account = data["ToUserName"]
    kind = data["MsgType"].lower()
    created = data.get("CreateTime", "")

    def incoming(**fields: Any) -> Incoming:
        return Incoming(channel=NAME, user_id=openid, chat_id=openid, **fields)

    if kind != "event":
        key = f"m:{data['MsgId']}" if data.get("MsgId") else f"m:{openid}:{created}:{kind}"
        if kind == "text":
            return Received(
                openid, account, key, "text", incoming(text=data.get("Content", "")), encrypted
            )
        if kind == "location":
            where = _place(data.get("Location_X"), data.get("Location_Y"))
            return Received(openid, account, key, "location", incoming(location=where), encrypted)
        return Received(
            openid, account, key, "media" if kind in MEDIA else "ignored", None, encrypted
        )
    event = _event(data)
    key = f"e:{openid}:{created}:{event}"
    if event == "subscribe_scan" or event == "scan":
        scene = data.get("EventKey", "").removeprefix("qrscene_")
        found = incoming(start=scene) if scene else incoming(text="/start")
        return Received(openid, account, key, "start", found, encrypted)
    if event in ("subscribe", "subscribe_scan_product"):
        return Received(openid, account, key, "start", incoming(text="/start"), encrypted)
    if event == "location":
        where = _place(data.get("Latitude"), data.get("Longitude"))
        return Received(openid, account, key, "located", incoming(location=where), encrypted)
    if event == "click" and data.get("EventKey"):
        payload = data["EventKey"]
        return Received(openid, account, key, "press", incoming(payload=payload), encrypted)
    if event == "unsubscribe":
        return Received(openid, account, key, "unsubscribe", None, encrypted)
    if event == "masssendjobfinish":
        mass = _mass_finished(data)
        key = f"e:mass:{mass.msg_id}"
        return Received(openid, account, key, "mass_finished", None, encrypted, mass)
    return Received(openid, account, key, "ignored", None, encrypted)


def _event(data: dict[str, str]) -> str:
    """The event's name as wechatpy names it (and as message keys have it): a follow by
    scanning a code with a scene (``qrscene_...``) is ``subscribe_scan``, one by scanning a
    product's code ``subscribe_scan_product``."""
    event = data.get("Event", "").lower()
    scanned = data.get("EventKey", "")
    if event == "subscribe" and scanned.startswith(("scanbarcode|", "scanimage|")):
        return "subscribe_scan_product"
    if event == "subscribe" and scanned.startswith("qrscene_"):
        return "subscribe_scan"
    return event


def _mass_finished(data: dict[str, str]) -> MassFinished:
    try:
        return MassFinished(
            msg_id=int(data["MsgID"]),
            status=data.get("Status", "")[:64],
            total=int(data.get("TotalCount") or 0),
            filtered=int(data.get("FilterCount") or 0),
            sent=int(data.get("SentCount") or 0),
            errors=int(data.get("ErrorCount") or 0),
        )
    except (KeyError, TypeError, ValueError):
        raise Rejected(400, "bad mass send event") from None


def _place(latitude: Any, longitude: Any) -> Location:
    """A latitude and longitude as WeChat writes them, or 400."""
    try:
        where = Location(float(latitude), float(longitude))
    except (TypeError, ValueError):
        raise Rejected(400, "bad location") from None
    if not (-90 <= where.latitude <= 90 and -180 <= where.longitude <= 180):
        raise Rejected(400, "bad location")
    return where
