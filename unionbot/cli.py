"""The ``unionbot`` command line: demo, chat, db, seed, grant, revoke, jobs, close-ballots."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path

import httpx

from bot.app import App
from bot.background import Background
from bot.channels.base import StartFailed
from bot.channels.console import ConsoleChannel
from bot.logs import configure_logging
from bot.settings import (
    LANGUAGES,
    Settings,
    SettingsError,
    demo_database,
    demo_settings,
    load_settings,
    unknown_variables,
)
from bot.startup import (
    DATABASE_ERRORS,
    StartupError,
    check_database_file,
    check_folders,
    database_failure,
    shown_url,
)
from storage import members
from storage.migrate import upgrade
from storage.model_worker_code import KEY_DIR, public_key_pem
from storage.models import SCOPED_ROLES, Role
from storage.seed import SeedError, demo_files, import_file
from storage.types import utcnow
from unionbot.app import build_app
from unionbot.channels import configured_names

log = logging.getLogger("unionbot")

DEEP_LINK = re.compile(r"[A-Za-z0-9_-]{1,64}")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="unionbot",
        description="A trade-union federation's chat bot for its members.",
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="create and migrate a SQLite database here, load demo data, chat on the console",
    )
    demo.add_argument("--as", dest="name", default="me", help="your console name (default: me)")
    demo.add_argument("--lang", choices=LANGUAGES, help="your language")

    chat = commands.add_parser("chat", help="chat with the bot on the console, one action per line")
    chat.add_argument("--as", dest="name", required=True, help="the console identity to act as")
    chat.add_argument("--lang", choices=LANGUAGES, help="set this member's language")
    chat.add_argument(
        "--json", action="store_true", help="print every bot message as one JSON line"
    )

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="migrate the database to the newest schema")

    seed = commands.add_parser("seed", help="import data: 'demo' or YAML/CSV files")
    seed.add_argument("sources", nargs="+", metavar="demo|FILE", help="'demo', or .yaml/.csv files")

    for name, about in (("grant", "give a member a role"), ("revoke", "take a role back")):
        command = commands.add_parser(name, help=about, description=about)
        command.add_argument("name", help="console name, or channel:id such as telegram:12345")
        command.add_argument("role", choices=[r.value for r in Role if r is not Role.MEMBER])
        command.add_argument(
            "--scope", default="", help="enterprise id (chair) or unit id (unit_staff)"
        )

    invite = commands.add_parser(
        "invite",
        help="print a one-time code (and deep link) that gives a role to whoever sends it",
    )
    invite.add_argument("role", choices=[r.value for r in Role if r is not Role.MEMBER])
    invite.add_argument("--scope", default="", help="enterprise id (chair) or unit id (unit_staff)")
    invite.add_argument(
        "--hours", type=int, default=24, help="hours the code stays valid, 1-168 (default 24)"
    )
    invite.add_argument("--qr", type=Path, help="also write the deep link's QR code to this PNG")

    backup = commands.add_parser(
        "backup", help="copy the database and the key folder into a new folder DIR"
    )
    backup.add_argument("dir", type=Path, metavar="DIR", help="a new or empty folder")
    restore = commands.add_parser(
        "restore", help="put a backup's database and key folder back, then migrate"
    )
    restore.add_argument("dir", type=Path, metavar="DIR", help="a folder made by unionbot backup")
    restore.add_argument(
        "--replace", action="store_true", help="overwrite a database with tables and other keys"
    )
    commands.add_parser(
        "doctor",
        help="check settings, database, key folder and channels; exit 0 only when all is well",
    )
    commands.add_parser("jobs", help="list scheduled jobs: id, next run, what")
    about = "close every bargaining ballot whose closing time has passed and publish the results"
    commands.add_parser("close-ballots", help=about, description=about)

    keys = commands.add_parser("keys", help="the model-worker code's signing key")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    keys_commands.add_parser(
        "export", help="print the public key (PEM), so a partner unit can verify codes offline"
    )

    events = commands.add_parser("events", help="singles' events")
    events_commands = events.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    export = events_commands.add_parser("export", help="write an event's participants as CSV")
    export.add_argument("event_id", type=int, metavar="EVENT_ID", help="the event's number")
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")

    commands.add_parser("run", help="serve members on every configured channel by polling")
    serve = commands.add_parser("serve", help="serve the channels' webhooks and /healthz over HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on")

    wechat = commands.add_parser("wechat", help="the WeChat Official Account: menu, QR codes")
    wechat_commands = wechat.add_subparsers(dest="wechat_command", required=True, metavar="ACTION")
    menu = wechat_commands.add_parser(
        "menu", help="print the custom menu built from the bot's menu (--apply sets it)"
    )
    menu.add_argument("--apply", action="store_true", help="set it as the account's menu")
    qrcode = wechat_commands.add_parser(
        "qrcode", help="create a parametric QR code that opens a deep link; save the PNG"
    )
    qrcode.add_argument("payload", help="deep-link payload, e.g. event_12 (<= 64 characters)")
    qrcode.add_argument("--out", type=Path, help="PNG file to write (default: qrcode_PAYLOAD.png)")
    qrcode.add_argument(
        "--days", type=int, default=30, help="days the code is valid, 1-30 (default 30)"
    )
    qrcode.add_argument(
        "--permanent", action="store_true", help="a permanent code (limited number per account)"
    )
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = demo_settings(args.lang) if args.command == "demo" else load_settings()
    except SettingsError as error:
        print(f"unionbot: {error}", file=sys.stderr)
        return 2
    configure_logging(settings)
    if args.command != "demo":
        for warning in unknown_variables():
            log.warning("%s", warning)
    command = COMMANDS[args.command]
    try:
        if args.command != "doctor":
            check_folders(settings)
        return asyncio.run(command(args, settings))
    except StartupError as error:
        print(f"unionbot: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


async def _with_app(
    settings: Settings, work: Callable[[App], Awaitable[int]], *, uses_keys: bool = False
) -> int:
    """Migrate, check the private files (:mod:`bot.private_files`), then ``work``; a
    command that ``uses_keys`` ties a new database to its key folder."""
    from bot.private_files import check_private_files

    check_database_file(settings.database_url)
    app = build_app(settings)
    try:
        try:
            await upgrade(app.engine)
        except DATABASE_ERRORS as error:
            raise database_failure(settings.database_url, error) from None
        await check_private_files(app, uses_keys=uses_keys)
        return await work(app)
    finally:
        await app.close()


async def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Always the demo's own SQLite file here (see :func:`bot.settings.demo_settings`)."""

    async def work(app: App) -> int:
        if await _seed(app, ["demo"]) != 0:
            return 1
        t = app.dispatcher.translations[settings.default_language]
        print(t("demo.banner", database=demo_database(), name=args.name) + "\n")
        return await _chat(app, args.name, args.lang, json_mode=False)

    return await _with_app(settings, work, uses_keys=True)


async def run_chat(args: argparse.Namespace, settings: Settings) -> int:
    return await _with_app(
        settings, lambda app: _chat(app, args.name, args.lang, args.json), uses_keys=True
    )


async def _chat(app: App, name: str, language: str | None, json_mode: bool) -> int:
    console = ConsoleChannel(app.dispatcher, name, sys.stdout, json_mode, language)
    if language:
        async with app.sessions() as session, session.begin():
            await members.set_language(session, console.name, name, language)
    await console.start()
    background = Background(app)
    if not configured_names(app.settings):
        # With Telegram or WeChat configured, `run` or `serve` leads: the leader's sender
        # must be able to send on every channel.
        await background.start()
    waiting = asyncio.create_task(_deliver_waiting(console, app.settings.sender_poll_seconds))
    prompt = sys.stdin.isatty() and not json_mode
    try:
        while True:
            if prompt:
                print("> ", end="", flush=True)
            line = await asyncio.to_thread(sys.stdin.buffer.readline)
            if not line:
                return 0
            await console.handle_line(line)
    finally:
        waiting.cancel()
        await background.stop()


async def _deliver_waiting(console: ConsoleChannel, every: float) -> None:
    """Print what other processes (or this one's scheduler) wrote for console members."""
    while True:
        await asyncio.sleep(every)
        try:
            await console.deliver_waiting()
        except Exception:
            log.exception("taking console messages from the outbox failed")


async def run_db(args: argparse.Namespace, settings: Settings) -> int:
    async def work(app: App) -> int:
        print(f"database is at the newest schema: {shown_url(settings.database_url)}")
        return 0

    return await _with_app(settings, work)


async def run_seed(args: argparse.Namespace, settings: Settings) -> int:
    return await _with_app(settings, lambda app: _seed(app, args.sources), uses_keys=True)


async def _seed(app: App, sources: list[str]) -> int:
    paths = [
        p for source in sources for p in (demo_files() if source == "demo" else [Path(source)])
    ]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"unionbot: no such file: {', '.join(missing)}", file=sys.stderr)
        return 1
    KEY_DIR.set(app.settings.key_dir)
    try:
        async with app.sessions() as session, session.begin():
            counts = [await import_file(session, path) for path in paths]
    except SeedError as error:
        print(f"unionbot: {error.path}: nothing imported:", file=sys.stderr)
        for problem in error.errors:
            print(f"  {problem}", file=sys.stderr)
        return 1
    for path, count in zip(paths, counts, strict=True):
        summary = ", ".join(f"{n} {name}" for name, n in count.items()) or "nothing"
        print(f"imported {path.name}: {summary}")
    if any("events" in count for count in counts):
        from handlers.events import schedule_reminders

        jobs = await schedule_reminders(app, utcnow())
        print(f"scheduled {jobs} event reminders")
    return 0


def _scope_given(role: Role, scope: str) -> bool:
    """A scoped role needs ``--scope``, any other takes none; says so when not."""
    if (role in SCOPED_ROLES) == bool(scope):
        return True
    need = "needs" if role in SCOPED_ROLES else "takes no"
    print(f"unionbot: role {role} {need} --scope", file=sys.stderr)
    return False


async def run_roles(args: argparse.Namespace, settings: Settings) -> int:
    """``grant`` and ``revoke``: a grant's scope must name an existing enterprise or unit."""
    from storage import roles

    role = Role(args.role)
    if not _scope_given(role, args.scope):
        return 2
    scope = f" {args.scope}" if args.scope else ""

    async def work(app: App) -> int:
        async with app.sessions() as session, session.begin():
            member = await members.find_member(session, args.name)
            if member is None:
                print(
                    f"unionbot: no member {args.name!r}: they must write to the bot first",
                    file=sys.stderr,
                )
                return 1
            if args.command == "revoke":
                if not await roles.revoke_role(session, member.id, role, args.scope):
                    print(f"unionbot: {args.name} does not hold {role}{scope}", file=sys.stderr)
                    return 1
                print(f"{args.name}: {role}{scope} taken back")
                return 0
            if not await roles.scope_exists(session, role, args.scope):
                print(f"unionbot: {roles.no_such_scope(role, args.scope)}", file=sys.stderr)
                return 1
            added = await members.grant_role(session, member.id, role, args.scope)
        print(f"{args.name}: {role}{scope} {'granted' if added else 'already held'}")
        return 0

    return await _with_app(settings, work)


async def run_invite(args: argparse.Namespace, settings: Settings) -> int:
    """The code is printed once and only its hash is stored."""
    from bot.invitations import print_invitation

    role = Role(args.role)
    if not _scope_given(role, args.scope):
        return 2
    if not 1 <= args.hours <= 168:
        print("unionbot: --hours must be between 1 and 168", file=sys.stderr)
        return 2
    return await _with_app(
        settings, lambda app: print_invitation(app, role, args.scope, args.hours, args.qr)
    )


async def run_backup(args: argparse.Namespace, settings: Settings) -> int:
    from bot.backup import backup

    for line in await asyncio.to_thread(backup, settings, args.dir):
        print(line)
    return 0


async def run_restore(args: argparse.Namespace, settings: Settings) -> int:
    from bot.backup import restore

    for line in await asyncio.to_thread(restore, settings, args.dir, replace=args.replace):
        print(line)
    return await run_db(args, settings)


async def run_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from bot.doctor import examine, report

    text, status = report(await examine(settings, unknown_variables()))
    print(text)
    return status


async def run_jobs(args: argparse.Namespace, settings: Settings) -> int:
    from bot.scheduler import stored_jobs

    def work() -> int:
        listed = 0
        for job_id, next_run, name, job_args in stored_jobs(settings):
            when = (
                next_run.astimezone(settings.zone).isoformat(timespec="seconds")
                if next_run
                else "paused"
            )
            print(f"{job_id}\t{when}\t{name}{job_args}")
            listed += 1
        if not listed:
            print("no scheduled jobs")
        return 0

    async def listing(app: App) -> int:
        return await asyncio.to_thread(work)

    return await _with_app(settings, listing)


async def run_close_ballots(args: argparse.Namespace, settings: Settings) -> int:
    """Results go to members through the outbox; the leader of the serving processes
    sends them (console members see them in their next chat)."""
    from handlers.ballots import close_due_ballots

    async def work(app: App) -> int:
        closed = await close_due_ballots(app.sessions, app.outbox, app.settings.key_dir)
        print(f"closed {closed} ballot{'s' if closed != 1 else ''}")
        return 0

    return await _with_app(settings, work)


async def run_events(args: argparse.Namespace, settings: Settings) -> int:
    return await _with_app(settings, lambda app: export_event(app, args.event_id, args.out))


async def export_event(app: App, event_id: int, out: Path | None) -> int:
    """``events export``: participants as CSV (UTF-8 with BOM, so spreadsheets read Chinese)."""
    from bot.spreadsheets import write_rows
    from storage import events
    from storage.models.events import Event

    async with app.sessions() as session:
        if await session.get(Event, event_id) is None:
            print(f"unionbot: no event {event_id}", file=sys.stderr)
            return 1
        table = await events.export_rows(session, event_id)
    if out is None:
        write_rows(sys.stdout, table)
    else:
        with out.open("w", encoding="utf-8-sig", newline="") as file:
            write_rows(file, table)
        print(f"wrote {len(table) - 1} participants to {out}")
    return 0


async def run_channels(args: argparse.Namespace, settings: Settings) -> int:
    from unionbot import runner

    async def work(app: App) -> int:
        try:
            if args.command == "serve":
                await runner.serve(app, args.host, args.port)
            else:
                await runner.run_polling(app)
        except runner.NoChannel as error:
            print(f"unionbot: {error}", file=sys.stderr)
            return 2
        except StartFailed as error:
            print(f"unionbot: {error}", file=sys.stderr)
            return 2
        return 0

    return await _with_app(settings, work, uses_keys=True)


async def run_keys(args: argparse.Namespace, settings: Settings) -> int:
    """Print the public key only; the private key never leaves the key directory."""

    async def work(app: App) -> int:
        print(public_key_pem(settings.key_dir), end="")
        return 0

    return await _with_app(settings, work, uses_keys=True)


async def run_wechat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.channels.wechat.api import WeChatApi, WeChatApiError
    from bot.channels.wechat.menu import build_menu
    from bot.settings import wechat_missing

    if args.wechat_command == "qrcode" and not DEEP_LINK.fullmatch(args.payload):
        print("unionbot: PAYLOAD must be 1-64 letters, digits, _ or -", file=sys.stderr)
        return 2
    if args.wechat_command == "qrcode" and not 1 <= args.days <= 30:
        print("unionbot: --days must be between 1 and 30", file=sys.stderr)
        return 2
    missing = wechat_missing(settings)
    needs_api = args.wechat_command == "qrcode" or args.apply

    async def work(app: App) -> int:
        if needs_api and missing:
            print(f"unionbot: set {', '.join(missing)} first", file=sys.stderr)
            return 2
        if args.wechat_command == "menu":
            menu = build_menu(app.dispatcher, app.dispatcher.translations["zh_CN"])
            print(json.dumps(menu, ensure_ascii=False, indent=2))
        api = WeChatApi(settings, app.sessions) if needs_api else None
        if api is None:
            return 0
        try:
            if args.wechat_command == "menu":
                await api.create_menu(menu)
                print("menu set")
                return 0
            expire = None if args.permanent else args.days * 24 * 3600
            ticket, url = await api.create_qrcode(args.payload, expire_seconds=expire)
            out = args.out or Path(f"qrcode_{args.payload}.png")
            out.write_bytes(await api.qrcode_image(ticket))
            print(f"{out}\t{url}")
            return 0
        except (WeChatApiError, httpx.HTTPError) as error:
            print(f"unionbot: WeChat: {error}", file=sys.stderr)
            return 1
        finally:
            await api.close()

    return await _with_app(settings, work)


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], Coroutine[None, None, int]]] = {
    "demo": run_demo,
    "chat": run_chat,
    "db": run_db,
    "seed": run_seed,
    "grant": run_roles,
    "revoke": run_roles,
    "invite": run_invite,
    "doctor": run_doctor,
    "backup": run_backup,
    "restore": run_restore,
    "jobs": run_jobs,
    "keys": run_keys,
    "close-ballots": run_close_ballots,
    "events": run_events,
    "run": run_channels,
    "serve": run_channels,
    "wechat": run_wechat,
}
