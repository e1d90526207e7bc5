"""``unionbot backup DIR`` and ``unionbot restore DIR``: the database and the key folder,
together, because one without the other is no backup: the signing key verifies the
model-worker codes members hold and the pepper keys every ID-number hash in the database.

The database copy is consistent while the bot runs: SQLite's online backup API on SQLite,
``pg_dump`` (custom format) on PostgreSQL. ``DIR`` gets mode 0700 and the files 0600, since
it holds the private key. Restoring is for a stopped bot: it refuses to overwrite a database
that has tables or a key folder that has other keys unless told to ``--replace``.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from bot.settings import Settings
from bot.startup import StartupError

MANIFEST = "unionbot-backup.json"
SQLITE_FILE = "unionbot-db.sqlite"
POSTGRES_FILE = "unionbot-db.pgdump"
KEYS = "keys"
FORMAT = 1


def _kind(url: URL) -> str:
    return "sqlite" if url.drivername.startswith("sqlite") else "postgresql"


def backup(settings: Settings, target: Path) -> list[str]:
    """Write the copy; returns what was written, one line each."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise StartupError(f"{target} exists and is not an empty folder; name a new one")
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    target.chmod(0o700)
    url = make_url(settings.database_url)
    if _kind(url) == "sqlite":
        database = target / SQLITE_FILE
        _sqlite_copy(_sqlite_path(url), database)
    else:
        database = target / POSTGRES_FILE
        _postgres_tool("pg_dump", url, "--format=custom", "--no-owner", f"--file={database}")
    database.chmod(0o600)
    keys = _copy_keys(settings.key_dir, target / KEYS)
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": _kind(url),
        "keys": keys,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    lines = [f"database: {database}"]
    lines.append(f"keys: {', '.join(keys)}" if keys else f"keys: none in {settings.key_dir}")
    return lines


def restore(settings: Settings, source: Path, *, replace: bool) -> list[str]:
    """Put a backup back; the caller migrates the database afterwards."""
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError):
        raise StartupError(f"{source} is not a unionbot backup (no readable {MANIFEST})") from None
    url = make_url(settings.database_url)
    if manifest.get("database") != _kind(url):
        raise StartupError(
            f"{source} holds a {manifest.get('database')} database but UNIONBOT_DATABASE_URL "
            f"is {_kind(url)}; restore it into a {manifest.get('database')} database"
        )
    _check_keys_replaceable(source / KEYS, settings.key_dir, replace)
    if _kind(url) == "sqlite":
        path = _sqlite_path(url)
        if _sqlite_has_tables(path) and not replace:
            raise _occupied(str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(source / SQLITE_FILE, path)
        path.chmod(0o600)
    else:
        if _postgres_has_tables(url) and not replace:
            raise _occupied(f"database {url.database}")
        clean = ["--clean", "--if-exists"] if replace else []
        _postgres_tool("pg_restore", url, "--no-owner", *clean, str(source / POSTGRES_FILE))
    keys = _copy_keys(source / KEYS, settings.key_dir)
    return [f"database: restored from {source}", f"keys: {', '.join(keys) or 'none'}"]


def _occupied(what: str) -> StartupError:
    return StartupError(f"{what} already has tables; stop the bot and pass --replace to overwrite")


def _sqlite_path(url: URL) -> Path:
    return Path(url.database or "")


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy even while other processes write."""
    if not source.is_file():
        raise StartupError(f"no SQLite database at {source}")
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _sqlite_has_tables(path: Path) -> bool:
    if not path.is_file():
        return False
    with sqlite3.connect(path) as connection:
        found = connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
        count = int(found.fetchone()[0])
    connection.close()
    return count > 0


def _postgres_has_tables(url: URL) -> bool:
    import psycopg

    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, connect_timeout=10) as connection:
        row = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    return bool(row and row[0])


def _postgres_tool(tool: str, url: URL, *arguments: str) -> None:
    """Run ``pg_dump``/``pg_restore`` for ``url``; the password goes by environment, never
    on the command line where ``ps`` would show it."""
    if shutil.which(tool) is None:
        raise StartupError(f"{tool} not found: install the PostgreSQL client (postgresql-client)")
    connection = [f"--dbname={url.database}"]
    if url.host:
        connection.append(f"--host={url.host}")
    if url.port:
        connection.append(f"--port={url.port}")
    if url.username:
        connection.append(f"--username={url.username}")
    environment = dict(os.environ, PGPASSWORD=url.password or "") if url.password else None
    done = subprocess.run(
        [tool, "--no-password", *connection, *arguments],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["failed"])[0]
        raise StartupError(f"{tool}: {reason}")


def _copy_keys(source: Path, target: Path) -> list[str]:
    if not source.is_dir():
        return []
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    target.chmod(0o700)
    names = []
    for key in sorted(p for p in source.iterdir() if p.is_file()):
        copy = target / key.name
        shutil.copyfile(key, copy)
        copy.chmod(0o600)
        names.append(key.name)
    return names


def _check_keys_replaceable(backup_keys: Path, key_dir: Path, replace: bool) -> None:
    if replace or not backup_keys.is_dir() or not key_dir.is_dir():
        return
    differing = [
        key.name
        for key in backup_keys.iterdir()
        if (key_dir / key.name).exists() and not filecmp.cmp(key, key_dir / key.name, shallow=False)
    ]
    if differing:
        raise StartupError(
            f"{key_dir} holds other keys ({', '.join(sorted(differing))}); "
            "pass --replace to overwrite them (codes signed with them will stop verifying)"
        )
