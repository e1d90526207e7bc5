"""The files beside the database that must stay private and belong to it: the SQLite
file and the key folder. Checked when a command opens the database, so a problem is one
line at start-up rather than a failure, or a silent new key, in the middle of serving.

- Readable by others (group or world bits): the SQLite file, the key folder or any file
  in it is refused, with the ``chmod`` that fixes it. The bot creates all of them 0600
  (the folder 0700).
- Tied to the database: the folder holds its own key (``folder-key.bin``), whose fingerprint
  the database records the first time a command that uses keys runs. Afterwards a folder
  without that key, or with another one, is refused: a relative ``UNIONBOT_KEY_DIR`` run
  from another directory, or a wrong path, would otherwise make a new pepper and signing
  key at first use, and no register hash or handed-out code would match again. For the
  same reason a key the database's rows depend on (the pepper once the register has rows,
  the signing key once a code is out) is never made anew when the folder has lost it.
"""

from __future__ import annotations

import hashlib
import secrets
import stat
from pathlib import Path

from bot.app import App
from bot.startup import StartupError
from storage import key_folder
from storage.db import sqlite_file
from storage.model_worker_code import KeyFileExposed, secret_file

FOLDER_KEY = "folder-key.bin"


async def check_private_files(app: App, *, uses_keys: bool) -> None:
    """Refuse readable files; for a command that ``uses_keys``, refuse a key folder that
    is not this database's, or tie the folder to a database that has none yet (making it
    if need be). Commands that never touch a key (``jobs``, ``grant``) run from anywhere."""
    database = sqlite_file(app.settings.database_url)
    if database is not None and database.exists() and readable_by_others(database):
        raise StartupError(f"others may read the database file {database}: chmod 600 {database}")
    folder = app.settings.key_dir.absolute()
    _refuse_readable(folder)
    own_key = folder / FOLDER_KEY
    if not uses_keys:
        return
    async with app.sessions() as session:
        recorded = await key_folder.recorded_fingerprint(session)
        if recorded is None:
            recorded = await key_folder.record_fingerprint(
                session, fingerprint(_read(own_key, secrets.token_bytes(32)))
            )
        in_use = await key_folder.keys_in_use(session)
    if not own_key.is_file():
        raise StartupError(
            f"UNIONBOT_KEY_DIR={folder} is not this database's key folder (no {FOLDER_KEY}; "
            f"the database's has key {recorded}): set UNIONBOT_KEY_DIR to that folder's "
            "absolute path, or restore it from the backup (unionbot restore)"
        )
    found = fingerprint(_read(own_key, b""))
    if found != recorded:
        raise StartupError(
            f"UNIONBOT_KEY_DIR={folder} holds key {found}, but this database's folder has key "
            f"{recorded}: set UNIONBOT_KEY_DIR to the database's key folder"
        )
    lost = {name for name in in_use if not (folder / name).is_file()}
    if lost:
        raise StartupError(
            f"UNIONBOT_KEY_DIR={folder} lacks {', '.join(sorted(lost))}; {restore_hint(lost)}"
        )


def restore_hint(names: set[str]) -> str:
    return (
        f"the database uses {', '.join(sorted(names))}: restore the key folder from the backup "
        "made with this database (unionbot restore), or fix UNIONBOT_KEY_DIR"
    )


def fingerprint(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def readable_by_others(path: Path) -> bool:
    return bool(stat.S_IMODE(path.stat().st_mode) & 0o077)


def _refuse_readable(folder: Path) -> None:
    if not folder.is_dir():
        return
    loose = [p for p in (folder, *sorted(folder.iterdir())) if readable_by_others(p)]
    if loose:
        names = ", ".join(str(p) for p in loose)
        raise StartupError(f"others may read {names}: chmod 700 {folder} && chmod 600 {folder}/*")


def _read(path: Path, make: bytes) -> bytes:
    try:
        return secret_file(path, make)
    except KeyFileExposed as error:
        raise StartupError(str(error)) from None
