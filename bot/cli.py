"""The ``unionbot`` command line: demo, chat, db, seed, grant, jobs, close-ballots."""

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

from bot.app import App, build_app
from bot.background import Background
from bot.channels.base import StartFailed
from bot.channels.console import ConsoleChannel
from bot.settings import LANGUAGES, Settings, SettingsError, load_settings
from storage import members
from storage.migrate import upgrade
from storage.model_worker_code import KEY_DIR, public_key_pem
from storage.models import SCOPED_ROLES, Role
from storage.seed import SeedError, demo_files, import_file
from storage.types import utcnow

log = logging.getLogger("unionbot")

DEEP_LINK = re.compile(r"[A-Za-z0-9_-]{1,64}")

DEMO_BANNER = """\
unionbot 演示 / demo — {url}
你现在的身份是 “{name}”。发送 /menu 查看菜单，/help 查看命令，/lang 切换语言；回复数字按下按钮。
以其他演示账号发言 / act as another demo account:
  {{"as": "officer", "text": "/help"}}
  (officer, matchmaker, chair, employer, xiaoli, xiaozhang, amy, admin,
   laomo: a model worker, hospital and bank: partner-unit staff,
   zhouzhuxi, xiaozhou, xiaowang, singles xiaohe and ajiang)
Ctrl-D 退出 / quit.
"""


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

    grant = commands.add_parser("grant", help="give a member a role")
    grant.add_argument("name", help="console name, or channel:id such as telegram:12345")
    grant.add_argument("role", choices=[r.value for r in Role if r is not Role.MEMBER])
    grant.add_argument("--scope", default="", help="enterprise id (chair) or unit id (unit_staff)")

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
        settings = load_settings()
    except SettingsError as error:
        print(f"unionbot: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for chatty in ("alembic", "apscheduler"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    command = COMMANDS[args.command]
    try:
        return asyncio.run(command(args, settings))
    except KeyboardInterrupt:
        return 130


async def _with_app(settings: Settings, work: Callable[[App], Awaitable[int]]) -> int:
    app = build_app(settings)
    try:
        await upgrade(app.engine)
        return await work(app)
    finally:
        await app.close()


async def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    async def work(app: App) -> int:
        if await _seed(app, ["demo"]) != 0:
            return 1
        print(DEMO_BANNER.format(url=settings.database_url, name=args.name))
        return await _chat(app, args.name, args.lang, json_mode=False)

    return await _with_app(settings, work)


async def run_chat(args: argparse.Namespace, settings: Settings) -> int:
    return await _with_app(settings, lambda app: _chat(app, args.name, args.lang, args.json))


async def _chat(app: App, name: str, language: str | None, json_mode: bool) -> int:
    console = ConsoleChannel(app.dispatcher, name, sys.stdout, json_mode, language)
    app.messenger.attach(console)
    if language:
        async with app.sessions() as session, session.begin():
            await members.set_language(session, console.name, name, language)
    await console.start()
    background = Background(app)
    await background.start()
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
        await background.stop()


async def run_db(args: argparse.Namespace, settings: Settings) -> int:
    async def work(app: App) -> int:
        print(f"database is at the newest schema: {settings.database_url}")
        return 0

    return await _with_app(settings, work)


async def run_seed(args: argparse.Namespace, settings: Settings) -> int:
    return await _with_app(settings, lambda app: _seed(app, args.sources))


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


async def run_grant(args: argparse.Namespace, settings: Settings) -> int:
    role = Role(args.role)
    if (role in SCOPED_ROLES) != bool(args.scope):
        print(
            f"unionbot: role {role} {'needs' if role in SCOPED_ROLES else 'takes no'} --scope",
            file=sys.stderr,
        )
        return 2

    async def work(app: App) -> int:
        async with app.sessions() as session, session.begin():
            member = await members.find_member(session, args.name)
            if member is None:
                print(
                    f"unionbot: no member {args.name!r}: they must write to the bot first",
                    file=sys.stderr,
                )
                return 1
            added = await members.grant_role(session, member.id, role, args.scope)
        scope = f" {args.scope}" if args.scope else ""
        print(f"{args.name}: {role}{scope} {'granted' if added else 'already held'}")
        return 0

    return await _with_app(settings, work)


async def run_jobs(args: argparse.Namespace, settings: Settings) -> int:
    from bot.scheduler import create_scheduler

    async def work(app: App) -> int:
        scheduler = create_scheduler(settings)
        scheduler.start(paused=True)
        try:
            jobs = scheduler.get_jobs()
        finally:
            scheduler.shutdown(wait=False)
        if not jobs:
            print("no scheduled jobs")
        for job in jobs:
            when = (
                job.next_run_time.astimezone(settings.zone).isoformat(timespec="seconds")
                if job.next_run_time
                else "paused"
            )
            print(f"{job.id}\t{when}\t{job.name}{job.args}")
        return 0

    return await _with_app(settings, work)


async def run_close_ballots(args: argparse.Namespace, settings: Settings) -> int:
    """Results go to members' running channels through the message queue."""
    from handlers.ballots import close_due_ballots

    async def work(app: App) -> int:
        closed = await close_due_ballots(app.sessions, app.messenger, app.settings.key_dir)
        print(f"closed {closed} ballot{'s' if closed != 1 else ''}")
        return 0

    return await _with_app(settings, work)


async def run_events(args: argparse.Namespace, settings: Settings) -> int:
    return await _with_app(settings, lambda app: export_event(app, args.event_id, args.out))


async def export_event(app: App, event_id: int, out: Path | None) -> int:
    """``events export``: participants as CSV (UTF-8 with BOM, so spreadsheets read Chinese)."""
    import csv

    from storage import events
    from storage.models.events import Event

    async with app.sessions() as session:
        if await session.get(Event, event_id) is None:
            print(f"unionbot: no event {event_id}", file=sys.stderr)
            return 1
        table = await events.export_rows(session, event_id)
    if out is None:
        csv.writer(sys.stdout).writerows(table)
    else:
        with out.open("w", encoding="utf-8-sig", newline="") as file:
            csv.writer(file).writerows(table)
        print(f"wrote {len(table) - 1} participants to {out}")
    return 0


async def run_channels(args: argparse.Namespace, settings: Settings) -> int:
    from bot import runner

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
            return 1
        return 0

    return await _with_app(settings, work)


async def run_keys(args: argparse.Namespace, settings: Settings) -> int:
    """Print the public key only; the private key never leaves the key directory."""
    print(public_key_pem(settings.key_dir), end="")
    return 0


async def run_wechat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.channels.registry import wechat_missing
    from bot.channels.wechat.api import WeChatApi, WeChatApiError
    from bot.channels.wechat.menu import build_menu

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
    "grant": run_grant,
    "jobs": run_jobs,
    "keys": run_keys,
    "close-ballots": run_close_ballots,
    "events": run_events,
    "run": run_channels,
    "serve": run_channels,
    "wechat": run_wechat,
}
