"""Start-up failures a new operator can cause, each said in one line that names what to fix.

``unionbot`` prints :class:`StartupError` as ``unionbot: …`` and exits with status 2, so a
wrong URL, a database that is down or a folder that cannot be written is never a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic.util.exc import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot.settings import Settings
from storage.db import sqlite_file


class StartupError(Exception):
    """What stops the command, as one line for the operator."""


def shown_url(url: str) -> str:
    """The database URL without its password, for printed lines and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "UNIONBOT_DATABASE_URL"


DATABASE_ERRORS = (OSError, TimeoutError, SQLAlchemyError, CommandError)
"""What connecting and migrating raise when the database is missing, down or refuses us."""


_SQLITE_HINT = "check that its folder exists and is writable, or fix UNIONBOT_DATABASE_URL"


def database_failure(url: str, error: BaseException) -> StartupError:
    """Phrase a connection or migration failure: where, why, and what to change."""
    original = error.orig if isinstance(error, DBAPIError) and error.orig else error
    reason = (str(original).strip().splitlines() or [type(original).__name__])[0]
    if url.startswith("sqlite"):
        hint = _SQLITE_HINT
    elif f'database "{make_url(url).database}" does not exist' in reason:
        hint = f"create it (createdb {make_url(url).database}) or fix UNIONBOT_DATABASE_URL"
    elif "role" in reason or "password" in reason:
        hint = "fix the user or password in UNIONBOT_DATABASE_URL, or create that role"
    elif isinstance(original, OSError | TimeoutError) or "connect" in reason.lower():
        hint = "start PostgreSQL, or fix the host and port in UNIONBOT_DATABASE_URL"
    else:
        hint = "check UNIONBOT_DATABASE_URL and the database server"
    return StartupError(f"cannot use the database {shown_url(url)}: {reason}; {hint}")


def check_database_file(url: str) -> None:
    """A SQLite file the bot could not open is said before connecting. Besides naming the
    folder, this never starts a connection bound to fail: aiosqlite's worker thread outlives
    a failed connect by one step, which it reports to the event loop, and once the command
    has ended that report is a traceback after the one line."""
    path = sqlite_file(url)
    if path is None:
        return
    folder = path.parent
    if not folder.is_dir():
        reason = f"the folder {folder} does not exist"
    elif path.exists() and (not path.is_file() or not os.access(path, os.R_OK | os.W_OK)):
        reason = f"{path} is not a file it may read and write"
    elif not os.access(folder, os.W_OK | os.X_OK):
        reason = f"the folder {folder} is not writable (SQLite writes its journal beside the file)"
    else:
        return
    raise StartupError(f"cannot use the database {shown_url(url)}: {reason}; {_SQLITE_HINT}")


def check_folders(settings: Settings) -> None:
    """The key and media folders exist as writable folders, or can be created; neither is
    created here, so a command that needs neither leaves nothing behind."""
    for variable, folder in (
        ("UNIONBOT_KEY_DIR", settings.key_dir),
        ("UNIONBOT_MEDIA_DIR", settings.media_dir),
    ):
        problem = _folder_problem(folder)
        if problem:
            raise StartupError(f"{variable}={folder} {problem}; set it to a folder it may write")


def _folder_problem(folder: Path) -> str | None:
    if folder.exists():
        if not folder.is_dir():
            return "is not a folder"
        if not os.access(folder, os.W_OK | os.X_OK):
            return "is not writable"
        return None
    parent = next((p for p in folder.absolute().parents if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return f"does not exist and cannot be created in {parent}"
    return None
