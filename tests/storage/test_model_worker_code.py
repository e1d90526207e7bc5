"""The model-worker code's token, keys and ID-number hashes."""

from __future__ import annotations

import base64
import os
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from storage.model_worker_code import (
    PEPPER_FILE,
    SIGNING_KEY_FILE,
    TOKEN_PREFIX,
    BadToken,
    TokenClaims,
    hash_id_number,
    mask_name,
    public_key_pem,
    read_token,
    sign_token,
    write_qr,
)

CLAIMS = TokenClaims("tok1", "provincial", "温州", "陈*红", datetime(2030, 1, 1, 8, 0, tzinfo=UTC))


def test_a_signed_token_reads_back_and_verifies_offline_with_the_exported_key(
    tmp_path: Path,
) -> None:
    token = sign_token(tmp_path, CLAIMS)
    assert token.startswith(TOKEN_PREFIX) and len(token) < 300
    assert read_token(tmp_path, token) == CLAIMS
    exported = serialization.load_pem_public_key(public_key_pem(tmp_path).encode())
    assert isinstance(exported, Ed25519PublicKey)
    payload, signature = token.removeprefix(TOKEN_PREFIX).split(".")

    def unb64(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    exported.verify(unb64(signature), TOKEN_PREFIX.encode() + unb64(payload))


def test_keys_are_made_once_with_owner_only_permissions(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    first = public_key_pem(keys)
    hash_id_number(keys, "999999197805120013")
    assert public_key_pem(keys) == first
    for name in (SIGNING_KEY_FILE, PEPPER_FILE):
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert "PRIVATE" not in first


def test_a_token_from_another_key_or_altered_is_refused(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    with pytest.raises(BadToken):
        read_token(ours, sign_token(theirs, CLAIMS))
    token = sign_token(ours, CLAIMS)
    forged_claims = TokenClaims("tok1", "national", "温州", "陈*红", CLAIMS.expires_at)
    forged_payload = sign_token(theirs, forged_claims).split(".")[1]
    signature = token.split(".")[2]
    with pytest.raises(BadToken):
        read_token(ours, f"{TOKEN_PREFIX}{forged_payload}.{signature}")
    for broken in ("", "hello", TOKEN_PREFIX + "...", token[:-1] + "é"):
        with pytest.raises(BadToken):
            read_token(ours, broken)


def test_only_the_canonical_base64url_text_of_a_token_verifies(tmp_path: Path) -> None:
    """The 64-byte signature leaves 4 unused bits in its last character, and lenient
    decoding skips characters outside the alphabet: neither may make a second valid text."""
    token = sign_token(tmp_path, CLAIMS)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    same_bytes = token[:-1] + alphabet[last ^ 1]
    assert base64.urlsafe_b64decode(same_bytes.split(".")[2] + "==") == (
        base64.urlsafe_b64decode(token.split(".")[2] + "==")
    ), "the changed character decodes to the same signature leniently"
    payload, signature = token.removeprefix(TOKEN_PREFIX).split(".")
    for variant in (
        same_bytes,
        f"{TOKEN_PREFIX}{payload}=.{signature}",
        f"{TOKEN_PREFIX}{payload}.{signature}==",
        f"{TOKEN_PREFIX}{payload[:4]}!{payload[4:]}.{signature}",
        f"{TOKEN_PREFIX}{payload}.{signature[:10]}\n{signature[10:]}",
        f"{TOKEN_PREFIX}{payload.replace('-', '+').replace('_', '/')}.{signature}",
    ):
        if variant == token:
            continue
        with pytest.raises(BadToken):
            read_token(tmp_path, variant)
    assert read_token(tmp_path, token) == CLAIMS


def test_id_numbers_hash_with_the_pepper_and_ignore_spaces_and_case(tmp_path: Path) -> None:
    one = hash_id_number(tmp_path / "a", "99999919700101001x")
    assert one == hash_id_number(tmp_path / "a", "999999 19700101 001X")
    assert one != hash_id_number(tmp_path / "b", "99999919700101001X"), "a different pepper"
    assert "99999919700101001" not in one and len(one) == 64


@pytest.mark.parametrize(
    ("name", "masked"), [("王建明", "王*明"), ("李梅", "李*"), ("欧阳晓红", "欧**红"), ("A", "A")]
)
def test_names_are_masked(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_expiry_is_kept_to_the_second(tmp_path: Path) -> None:
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    claims = TokenClaims("x", "city", "瑞安", "周*燕", soon)
    assert read_token(tmp_path, sign_token(tmp_path, claims)).expires_at == soon


def test_qr_images_of_expired_codes_are_deleted_when_a_new_one_is_made(tmp_path: Path) -> None:
    old = write_qr(tmp_path, "old", "UBMW1.a.b", timedelta(minutes=10))
    recent = write_qr(tmp_path, "recent", "UBMW1.c.d", timedelta(minutes=10))
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    new = write_qr(tmp_path, "new", "UBMW1.e.f", timedelta(minutes=10))
    assert not old.exists() and recent.exists() and new.exists()
    assert new.read_bytes()[:4] == b"\x89PNG"


def test_qr_images_are_readable_by_the_bot_alone(tmp_path: Path) -> None:
    image = write_qr(tmp_path, "code", "UBMW1.a.b", timedelta(minutes=10))
    assert stat.S_IMODE(image.stat().st_mode) == 0o600
    assert stat.S_IMODE(image.parent.stat().st_mode) == 0o700
