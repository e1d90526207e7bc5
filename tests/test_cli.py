"""The ``unionbot`` command as a newcomer and the acceptance checks use it: real processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.delivery import MessageClass
from bot.messages import Incoming, Outgoing
from bot.settings import Settings
from storage import members
from storage.types import utcnow
from unionbot.app import build_app

UNIONBOT = str(Path(sys.executable).with_name("unionbot"))


def unionbot(
    *args: str,
    stdin: str | bytes = b"",
    url: str | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("UNIONBOT_")}
    environment["UNIONBOT_QUIET_HOURS"] = ""  # what one member causes for another comes at once
    if url is not None:
        environment["UNIONBOT_DATABASE_URL"] = url
    environment.update(env or {})
    return subprocess.run(
        [UNIONBOT, *args],
        input=stdin.encode() if isinstance(stdin, str) else stdin,
        capture_output=True,
        cwd=cwd,
        env=environment,
        timeout=60,
        check=False,
    )


def chat(
    url: str, name: str, *lines: str | dict[str, Any], lang: str | None = None
) -> list[dict[str, Any]]:
    stdin = "".join(
        (json.dumps(line, ensure_ascii=False) if isinstance(line, dict) else line) + "\n"
        for line in lines
    )
    args = ["chat", "--as", name, "--json", *(["--lang", lang] if lang else [])]
    result = unionbot(*args, stdin=stdin, url=url)
    assert result.returncode == 0, result.stderr.decode()
    return [json.loads(line) for line in result.stdout.decode().splitlines()]


def test_start_then_language_choice_gives_the_menu_in_chinese_then_english(
    database_url: str,
) -> None:
    menu, choose, done, english_menu = chat(
        database_url, "x", "/start", {"press": "lang"}, {"press": "lang:en"}
    )
    assert menu["to"] == "x" and "请选择" in menu["text"]
    assert {"me", "help", "lang"} <= {b["payload"] for row in menu["buttons"] for b in row}
    assert set(menu) == {"to", "text", "buttons", "image"}
    assert "lang:en" in json.dumps(choose)
    assert done["text"] == "Language set to English."
    assert "Please choose" in english_menu["text"]
    assert "My details" in [b["label"] for row in english_menu["buttons"] for b in row]


def test_a_form_started_in_one_process_continues_in_the_next(database_url: str) -> None:
    [ask_name, ask_town] = chat(database_url, "x", "/me", "李晓梅")
    assert "真实姓名" in ask_name["text"] and "镇" in ask_town["text"]
    [ask_enterprise, ask_number, confirm, saved] = chat(
        database_url, "x", "坎墩街道", "跳过", "跳过", "1"
    )
    assert "单位" in ask_enterprise["text"] and "工号" in ask_number["text"]
    assert "李晓梅" in confirm["text"] and "坎墩街道" in confirm["text"]
    assert "已保存" in saved["text"]
    chat(database_url, "x", "/me")
    [cancelled, not_understood] = chat(database_url, "x", "/cancel", "王五")
    assert "已取消" in cancelled["text"] and "没听懂" in not_understood["text"]


def test_messages_written_while_away_are_printed_at_start(database_url: str) -> None:
    chat(database_url, "xiaoli", "/menu")

    async def write_for_xiaoli() -> None:
        app = build_app(Settings(database_url=database_url, quiet_hours="", _env_file=None))  # type: ignore[call-arg]
        await app.dispatcher.handle(Incoming("console", "x", "x", text="/menu"))
        async with app.sessions() as session, session.begin():
            member = await members.find_member(session, "xiaoli")
            assert member is not None
            message = (member.id, lambda t: Outgoing(t("menu.title")))
            await app.outbox.write(session, [message], MessageClass.INTERACTIVE, utcnow())
        await app.close()

    asyncio.run(write_for_xiaoli())
    [queued, reply] = chat(database_url, "xiaoli", "/help")
    assert queued["to"] == "xiaoli" and "请选择" in queued["text"]
    assert "/menu" in reply["text"]
    assert len(chat(database_url, "xiaoli", "/help")) == 1


def test_bad_input_lines_get_clear_messages(database_url: str) -> None:
    replies = chat(database_url, "x", "{oops", "字" * 10_000, "/nope", {"location": "here"})
    assert [r["to"] for r in replies] == ["x"] * 4
    assert "JSON" in replies[0]["text"]
    assert "太长" in replies[1]["text"]
    assert "/nope" in replies[2]["text"]
    assert "纬度" in replies[3]["text"]


def test_demo_creates_a_database_here_and_running_it_again_is_safe(tmp_path: Path) -> None:
    first = unionbot("demo", stdin="/menu\n", cwd=tmp_path)
    assert first.returncode == 0, first.stderr.decode()
    assert (tmp_path / "unionbot.db").exists()
    assert "请选择" in first.stdout.decode()
    again = unionbot("demo", stdin='{"as": "officer", "text": "/menu"}\n', cwd=tmp_path)
    assert again.returncode == 0, again.stderr.decode()
    assert "[officer]" in again.stdout.decode()


def test_seed_reports_bad_rows_and_imports_nothing(database_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "enterprises.csv"
    bad.write_bytes(b"name,city\n\xe5\xa5\xbd,\xff\n")
    result = unionbot("seed", str(bad), url=database_url, cwd=tmp_path)
    assert result.returncode == 1
    assert "line 2: not valid UTF-8" in result.stderr.decode()
    assert "nothing imported" in result.stderr.decode()
    good = unionbot("seed", "demo", url=database_url, cwd=tmp_path)
    assert good.returncode == 0, good.stderr.decode()
    assert "imported 00_core.yaml" in good.stdout.decode()
    assert "event reminders" in good.stdout.decode()
    listed = unionbot("jobs", url=database_url).stdout.decode()
    assert "event:1:" in listed and "event reminder" in listed
    again = unionbot("seed", "demo", url=database_url, cwd=tmp_path)
    assert again.returncode == 0, again.stderr.decode()
    relisted = unionbot("jobs", url=database_url).stdout.decode()
    assert relisted.count("event:") == listed.count("event:"), "seeding again does not double"


def test_grant_checks_the_member_and_the_scope(database_url: str) -> None:
    assert unionbot("grant", "ghost", "officer", url=database_url).returncode == 1
    chair = unionbot("grant", "ghost", "chair", url=database_url)
    assert chair.returncode == 2 and b"needs --scope" in chair.stderr
    chat(database_url, "x", "/menu")
    assert unionbot("grant", "x", "officer", url=database_url).returncode == 0
    again = unionbot("grant", "x", "officer", url=database_url)
    assert b"already held" in again.stdout


def test_a_malformed_setting_stops_with_one_clear_line() -> None:
    result = unionbot("db", "upgrade", env={"UNIONBOT_DATABASE_URL": "mysql://nope"})
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "UNIONBOT_DATABASE_URL" in lines[0]
    zone = unionbot("db", "upgrade", env={"UNIONBOT_TIMEZONE": "Mars/Olympus"})
    assert zone.returncode == 2 and b"UNIONBOT_TIMEZONE" in zone.stderr


@pytest.mark.parametrize("command", [[], ["demo"], ["chat"], ["db"], ["seed"], ["grant"], ["jobs"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = unionbot(*command, "--help")
    assert result.returncode == 0 and b"usage: unionbot" in result.stdout
