"""The sealed urn: ballot papers encrypted as they are cast, opened only to be counted.

Each ballot gets its own Curve25519 key pair when it opens (PyNaCl, libsodium). The public
key is kept on the ballot row; the private key is written only to the key folder
(``UNIONBOT_KEY_DIR/ballots/``, mode 0600), never to the database. A paper is the voter's
receipt and choice as JSON, padded to one length for the whole ballot (so the size of a
ciphertext does not tell "for" from "against" or one candidate from three) and sealed with
a libsodium sealed box: anonymous, with a fresh ephemeral key each time, so two equal
votes give unrelated ciphertexts. At closing the papers are opened in memory and counted,
then the papers are deleted and the key file overwritten and removed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from nacl.encoding import Base64Encoder
from nacl.public import PrivateKey, PublicKey, SealedBox
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

URN_DIR = "ballots"
PAD = b" "
"""JSON ignores trailing spaces, so a padded paper still parses."""


class UrnKeyMissing(Exception):
    """The ballot's private key is not in the key folder: its papers cannot be counted."""


def key_path(key_dir: Path, ballot_id: int, public_key: str) -> Path:
    """One file per ballot; the public key's start in the name keeps two databases sharing
    a key folder (or a ballot id used again after a rolled-back opening) apart."""
    tag = public_key[:12].replace("/", "_").replace("+", "-")
    return key_dir / URN_DIR / f"ballot-{ballot_id}-{tag}.key"


def new_key(key_dir: Path, ballot_id: int) -> str:
    """Make the ballot's key pair, write the private key; returns the public key (base64)."""
    private = PrivateKey.generate()
    public = private.public_key.encode(Base64Encoder).decode("ascii")
    path = key_path(key_dir, ballot_id, public)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(bytes(private))
    return public


def paper_size(max_choices: int, candidates: int) -> int:
    """The padded length of every paper of a ballot: room for the receipt and the longest
    possible choice, rounded up to 64 bytes."""
    longest = 64 + max_choices * (len(str(max(candidates, 1))) + 1)
    return -(-longest // 64) * 64


def seal(public_key: str, paper: dict[str, Any], size: int) -> bytes:
    plain = json.dumps(paper, separators=(",", ":")).encode("utf-8")
    if len(plain) > size:
        raise ValueError("paper longer than the ballot's paper size")
    box = SealedBox(PublicKey(public_key.encode("ascii"), Base64Encoder))
    return box.encrypt(plain + PAD * (size - len(plain)))


def open_papers(
    key_dir: Path, ballot_id: int, public_key: str, sealed: list[bytes]
) -> list[dict[str, Any]]:
    """Decrypt every paper in memory, for counting."""
    path = key_path(key_dir, ballot_id, public_key)
    try:
        private = PrivateKey(path.read_bytes())
    except FileNotFoundError:
        raise UrnKeyMissing(str(path)) from None
    box = SealedBox(private)
    return [json.loads(box.decrypt(paper)) for paper in sealed]


def erase_key(key_dir: Path, ballot_id: int, public_key: str) -> None:
    """Overwrite the private key and remove it: the counted papers can never be opened again,
    from this folder or from a database backup. (On a copy-on-write or journalling file
    system, or in a backup of the key folder, an old copy may survive: see the README.)"""
    path = key_path(key_dir, ballot_id, public_key)
    try:
        size = path.stat().st_size
        with path.open("r+b") as file:
            file.write(b"\0" * size)
            file.flush()
            os.fsync(file.fileno())
        path.unlink()
    except FileNotFoundError:
        return


def erase_key_after_commit(
    session: AsyncSession, key_dir: Path, ballot_id: int, public_key: str
) -> None:
    """Erase the key once the transaction that counted (or voided) the papers commits; a
    rollback keeps it, so the papers it left in place can still be counted."""

    def erase(_session: object) -> None:
        erase_key(key_dir, ballot_id, public_key)

    event.listen(session.sync_session, "after_commit", erase, once=True)
