"""The model-worker code (劳模码): an Ed25519-signed token, its QR image, and the keys.

A token is ``UBMW1.<payload>.<signature>`` (both base64url, no padding); the payload is
compact JSON with the code's id (to check revocation), the level, the city, the masked
name and the expiry as a Unix time. Anyone holding the public key (``unionbot keys
export``) can check the signature offline; the bot also checks the register for revocation.

Secrets live in ``settings.key_dir``, apart from the database: the signing key
(``model_worker_ed25519.pem``) and the pepper that keys the ID-number hashes
(``id-pepper.bin``). Both are created on first use with mode 0600 and are never logged.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import io
import json
import os
import secrets
import stat
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import qrcode
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

TOKEN_PREFIX = "UBMW1."
SIGNING_KEY_FILE = "model_worker_ed25519.pem"
PEPPER_FILE = "id-pepper.bin"
PEPPER_BYTES = 32


KEY_DIR: ContextVar[Path | None] = ContextVar("KEY_DIR", default=None)
"""The key directory for code without settings at hand (seed loaders); the CLI sets it."""


def current_key_dir() -> Path:
    return KEY_DIR.get() or Path(os.environ.get("UNIONBOT_KEY_DIR") or "keys")


class BadToken(Exception):
    """Not a token we signed: malformed, altered or forged."""


@dataclass(frozen=True)
class TokenClaims:
    token_id: str
    level: str
    city: str
    masked_name: str
    expires_at: datetime


class KeyFileExposed(Exception):
    """A key file others may read: it is not used (its secret may be out already)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"others may read the key file {path}: chmod 600 {path}")


def secret_file(path: Path, make: bytes) -> bytes:
    """Read a secret, or create it with mode 0600 (the directory 0700) if it is missing;
    one that others may read is refused (:class:`KeyFileExposed`)."""
    if path.exists():
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise KeyFileExposed(path)
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(descriptor, "wb") as file:
        file.write(make)
    return make


def signing_key(key_dir: Path) -> Ed25519PrivateKey:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key = serialization.load_pem_private_key(secret_file(key_dir / SIGNING_KEY_FILE, pem), None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{key_dir / SIGNING_KEY_FILE} is not an Ed25519 key")
    return key


def public_key(key_dir: Path) -> Ed25519PublicKey:
    return signing_key(key_dir).public_key()


def public_key_pem(key_dir: Path) -> str:
    return (
        public_key(key_dir)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def hash_id_number(key_dir: Path, id_number: str) -> str:
    """The register's key for an ID number: HMAC-SHA256 under the pepper, hex."""
    pepper = secret_file(key_dir / PEPPER_FILE, secrets.token_bytes(PEPPER_BYTES))
    normal = "".join(id_number.split()).upper()
    return hmac.new(pepper, normal.encode("ascii", "replace"), hashlib.sha256).hexdigest()


def keyed_hash(key_dir: Path, purpose: str, text: str) -> str:
    """HMAC-SHA256 under the pepper, hex, of ``purpose:text``: a datum the database must
    recognise without holding it (the purpose keeps one kind from matching another)."""
    pepper = secret_file(key_dir / PEPPER_FILE, secrets.token_bytes(PEPPER_BYTES))
    return hmac.new(pepper, f"{purpose}:{text}".encode(), hashlib.sha256).hexdigest()


def hash_claim_name(key_dir: Path, name: str) -> str:
    """A name typed into a claim, as a keyed hash (spaces removed, lower case): failed tries
    are counted per name without keeping the names people tried."""
    return keyed_hash(key_dir, "claim-name", "".join(name.split()).lower())


def mask_name(name: str) -> str:
    """王建明 → 王*明, 李梅 → 李*; a Latin name keeps its first and last letters."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Decode canonical unpadded base64url only. Lenient decoding skips characters outside
    the alphabet and ignores the unused low bits of the last character, so several texts
    would read as one token; a token must be exactly what :func:`sign_token` wrote."""
    data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    if _b64(data) != text:
        raise ValueError("not canonical base64url")
    return data


def sign_token(key_dir: Path, claims: TokenClaims) -> str:
    body = {
        "id": claims.token_id,
        "l": claims.level,
        "c": claims.city,
        "n": claims.masked_name,
        "e": int(claims.expires_at.timestamp()),
    }
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    signature = signing_key(key_dir).sign(TOKEN_PREFIX.encode("ascii") + payload)
    return f"{TOKEN_PREFIX}{_b64(payload)}.{_b64(signature)}"


def read_token(key_dir: Path, token: str) -> TokenClaims:
    """Check the signature and return the claims; raises :class:`BadToken`. Expiry and
    revocation are the caller's to judge."""
    token = token.strip()
    if not token.startswith(TOKEN_PREFIX):
        raise BadToken("prefix")
    encoded_payload, _, encoded_signature = token.removeprefix(TOKEN_PREFIX).partition(".")
    try:
        payload, signature = _unb64(encoded_payload), _unb64(encoded_signature)
    except (binascii.Error, ValueError):
        raise BadToken("encoding") from None
    try:
        public_key(key_dir).verify(signature, TOKEN_PREFIX.encode("ascii") + payload)
    except InvalidSignature:
        raise BadToken("signature") from None
    try:
        body = json.loads(payload)
        return TokenClaims(
            token_id=str(body["id"]),
            level=str(body["l"]),
            city=str(body["c"]),
            masked_name=str(body["n"]),
            expires_at=datetime.fromtimestamp(int(body["e"]), UTC),
        )
    except (ValueError, KeyError, TypeError):
        raise BadToken("payload") from None


def qr_png(content: str) -> bytes:
    """The QR code of ``content`` as PNG bytes. The mask is fixed rather than searched:
    searching the eight masks is nine tenths of the work and barely changes how it scans."""
    code = qrcode.QRCode(error_correction=qrcode.ERROR_CORRECT_M, border=2, mask_pattern=0)
    code.add_data(content)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    return buffer.getvalue()


def write_qr(media_dir: Path, name: str, content: str, keep: timedelta) -> Path:
    """Write the QR PNG of ``content`` to ``media_dir/codes/name.png``, first deleting the
    images older than ``keep``: their codes have expired, so they are of no use to anyone.
    A live code lets its holder use the member's benefits, so the folder is 0700 and each
    image 0600, like the keys."""
    folder = media_dir / "codes"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    oldest = time.time() - keep.total_seconds()
    for old in folder.glob("*.png"):
        with contextlib.suppress(FileNotFoundError):
            if old.stat().st_mtime < oldest:
                old.unlink()
    path = folder / f"{name}.png"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(qr_png(content))
    return path
