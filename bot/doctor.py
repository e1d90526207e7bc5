"""``unionbot doctor``: is this installation ready to serve? One line per check, each naming
what to fix when it fails; exit status 0 only when every check passes.

It reads and never writes: no migration, no key created, no webhook set. The checks are
the settings (and ``UNIONBOT_*`` names nobody reads), the database (reachable, at the
newest schema), the key folder (present, private, matching the database) and each
configured channel (Telegram: token accepted, webhook registered where one is configured;
WeChat: app id and secret accepted).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass

import httpx
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.private_files import restore_hint
from bot.settings import Settings, wechat_missing
from bot.startup import (
    DATABASE_ERRORS,
    StartupError,
    check_database_file,
    check_folders,
    database_failure,
    shown_url,
)
from storage import key_folder
from storage.db import create_engine
from storage.migrate import alembic_config

TIMEOUT_SECONDS = 10.0
WECHAT_IP_NOT_ALLOWED = 40164


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None
    """True passed, False failed, None not configured (neither)."""
    detail: str

    def line(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "off "}[self.ok]
        return f"{mark} {self.name}: {self.detail}"


async def examine(settings: Settings, unknown: list[str]) -> list[Check]:
    checks = [_settings_check(unknown)]
    engine = create_engine(settings.database_url)
    try:
        database = await _database_check(settings, engine)
        checks.append(database)
        checks.append(await _keys_check(settings, engine if database.ok else None))
    finally:
        await engine.dispose()
    checks += [await _telegram_check(settings), await _wechat_check(settings)]
    return checks


def _settings_check(unknown: list[str]) -> Check:
    if unknown:
        return Check("settings", False, "; ".join(unknown))
    return Check("settings", True, "read, no unknown UNIONBOT_* names")


async def _database_check(settings: Settings, engine: AsyncEngine) -> Check:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    where = shown_url(settings.database_url)

    def current(connection: Connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    try:
        check_database_file(settings.database_url)
        async with engine.connect() as connection:
            revisions = await connection.run_sync(current)
    except StartupError as error:
        return Check("database", False, str(error))
    except DATABASE_ERRORS as error:
        return Check("database", False, str(database_failure(settings.database_url, error)))
    if revisions != heads:
        at = ", ".join(sorted(revisions)) or "no schema"
        return Check(
            "database",
            False,
            f"{where} is at {at}, the newest is {', '.join(sorted(heads))}: "
            "run unionbot db upgrade",
        )
    return Check("database", True, f"{where}, at the newest schema")


async def _keys_check(settings: Settings, engine: AsyncEngine | None) -> Check:
    folder = settings.key_dir
    try:
        check_folders(settings)
    except StartupError as error:
        return Check("key folder", False, str(error))
    needed: set[str] = set()
    if engine is not None:
        async with AsyncSession(engine) as session:
            needed = await key_folder.keys_in_use(session)
    if not folder.is_dir():
        if needed:
            return Check("key folder", False, f"{folder} is missing; {restore_hint(needed)}")
        return Check("key folder", True, f"{folder} not made yet (the bot makes it on first use)")
    loose = [p for p in (folder, *folder.iterdir()) if stat.S_IMODE(p.stat().st_mode) & 0o077]
    if loose:
        names = ", ".join(str(p) for p in loose)
        return Check(
            "key folder",
            False,
            f"others may read {names}: chmod 700 {folder} && chmod 600 {folder}/*",
        )
    missing = {name for name in needed if not (folder / name).is_file()}
    if missing:
        return Check(
            "key folder",
            False,
            f"{folder} lacks {', '.join(sorted(missing))}; {restore_hint(missing)}",
        )
    return Check("key folder", True, f"{folder}, private, holds the keys the database uses")


async def _telegram_check(settings: Settings) -> Check:
    token = settings.telegram_token
    if not token:
        return Check("Telegram", None, "off (UNIONBOT_TELEGRAM_TOKEN is not set)")
    base = f"{settings.telegram_api_url.rstrip('/')}/bot{token}"
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            me = (await client.get(f"{base}/getMe")).json()
            if not me.get("ok"):
                return Check(
                    "Telegram",
                    False,
                    f"the token was refused ({me.get('description', 'no reason')}): "
                    "check UNIONBOT_TELEGRAM_TOKEN with @BotFather",
                )
            hook = (await client.get(f"{base}/getWebhookInfo")).json().get("result", {})
    except (httpx.HTTPError, ValueError) as error:
        return Check(
            "Telegram",
            False,
            f"{settings.telegram_api_url} unreachable ({error!r}): "
            "check the network or UNIONBOT_TELEGRAM_API_URL",
        )
    name = f"@{me['result'].get('username')}"
    wanted = settings.telegram_webhook_url
    registered = hook.get("url", "")
    if wanted and registered != wanted:
        return Check(
            "Telegram",
            False,
            f"{name}: the webhook is {registered or 'not registered'}, not {wanted}: "
            "start unionbot serve (it registers it) or call setWebhook",
        )
    if wanted and hook.get("last_error_message"):
        return Check(
            "Telegram",
            False,
            f"{name}: Telegram cannot deliver to {wanted}: {hook['last_error_message']}",
        )
    mode = f"webhook {wanted}" if wanted else "long polling (unionbot run)"
    return Check("Telegram", True, f"{name}, token accepted, {mode}")


async def _wechat_check(settings: Settings) -> Check:
    missing = wechat_missing(settings)
    if missing:
        return Check("WeChat", None, f"off ({', '.join(missing)} not set)")
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            answer = (
                await client.get(
                    f"{settings.wechat_api_url.rstrip('/')}/cgi-bin/token",
                    params={
                        "grant_type": "client_credential",
                        "appid": settings.wechat_app_id,
                        "secret": settings.wechat_app_secret,
                    },
                )
            ).json()
    except (httpx.HTTPError, ValueError) as error:
        return Check(
            "WeChat",
            False,
            f"{settings.wechat_api_url} unreachable ({error!r}): "
            "check the network or UNIONBOT_WECHAT_API_URL",
        )
    if "access_token" in answer:
        return Check("WeChat", True, f"{settings.wechat_app_id}: app id and secret accepted")
    code = answer.get("errcode")
    hint = (
        "add this server's public IP to the account's IP allow-list (IP白名单)"
        if code == WECHAT_IP_NOT_ALLOWED
        else "check UNIONBOT_WECHAT_APP_ID and UNIONBOT_WECHAT_APP_SECRET"
    )
    return Check(
        "WeChat", False, f"WeChat refused the credentials ({code} {answer.get('errmsg')}): {hint}"
    )


def report(checks: list[Check]) -> tuple[str, int]:
    failed = [c for c in checks if c.ok is False]
    lines = [c.line() for c in checks]
    lines.append(
        f"{len(failed)} problem{'s' if len(failed) != 1 else ''}" if failed else "all well"
    )
    return "\n".join(lines), 1 if failed else 0
