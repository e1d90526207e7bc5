"""A first hour without a traceback: the demo keeps to its own file, and every start-up
mistake is one line naming what to fix (exit status 2)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.test_cli import unionbot


def member_count(url: str) -> int:
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        with sqlite3.connect(str(parsed.database)) as connection:
            return int(connection.execute("SELECT count(*) FROM members").fetchone()[0])
    plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as connection:
        row = connection.execute("SELECT count(*) FROM members").fetchone()
        assert row is not None
        return int(row[0])


def test_the_demo_uses_its_own_file_whatever_the_environment_and_env_say(
    database_url: str, tmp_path: Path
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    (here / ".env").write_text(f"UNIONBOT_DATABASE_URL={database_url}\n")
    result = unionbot("demo", stdin="/menu\n", cwd=here, url=database_url)
    assert result.returncode == 0, result.stderr.decode()
    assert member_count(database_url) == 0, "the production database got nothing"
    assert member_count(f"sqlite+aiosqlite:///{here / 'unionbot.db'}") > 10
    banner = result.stdout.decode()
    assert str(here / "unionbot.db") in banner and "不读环境变量和 .env" in banner


def test_the_demo_banner_follows_lang(tmp_path: Path) -> None:
    english = unionbot("demo", "--lang", "en", cwd=tmp_path).stdout.decode()
    assert 'You are "me"' in english and "您" not in english and "演示" not in english
    chinese = unionbot("demo", cwd=tmp_path).stdout.decode()
    assert "您现在的身份是“me”" in chinese and "You are" not in chinese


def one_line(result_stderr: bytes) -> str:
    lines = result_stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432"


@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve"], ["chat", "--as", "x"]])
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{POSTGRES}/unionbot_no_such_db", "createdb unionbot_no_such_db"),
        ("postgresql+asyncpg://postgres:pw@127.0.0.1:1/x", "start PostgreSQL"),
        ("sqlite+aiosqlite:///no/such/folder/x.db", "folder exists"),
    ],
)
def test_a_missing_or_unreachable_database_is_one_line(
    command: list[str], url: str, expected: str, tmp_path: Path
) -> None:
    result = unionbot(*command, url=url, cwd=tmp_path)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert expected in line and "UNIONBOT_DATABASE_URL" in line
    assert "pw" not in line, "the password is never printed"


def shadow_redis(tmp_path: Path) -> dict[str, str]:
    """A Python path on which ``import redis`` fails, as without the extra installed."""
    package = tmp_path / "shadow" / "redis"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('No module named redis')\n")
    return {"PYTHONPATH": str(package.parent)}


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ({"UNIONBOT_LOG_LEVEL": "LOUD"}, "UNIONBOT_LOG_LEVEL must be one of DEBUG"),
        ({"UNIONBOT_LOG_FORMAT": "xml"}, "UNIONBOT_LOG_FORMAT must be one of text, json"),
        ({"UNIONBOT_REDIS_URL": "http://127.0.0.1:6379"}, "UNIONBOT_REDIS_URL must start with"),
        ({"UNIONBOT_REDIS_URL": "redis://127.0.0.1:6379/0", "shadow": ""}, "unionbot[redis]"),
        ({"UNIONBOT_KEY_DIR": "/etc/passwd"}, "UNIONBOT_KEY_DIR=/etc/passwd is not a folder"),
        ({"UNIONBOT_MEDIA_DIR": "/etc/passwd/media"}, "UNIONBOT_MEDIA_DIR=/etc/passwd/media"),
    ],
)
def test_a_bad_setting_is_one_line(setting: dict[str, str], expected: str, tmp_path: Path) -> None:
    env = dict(setting)
    if env.pop("shadow", None) is not None:
        env.update(shadow_redis(tmp_path))
    for command in (["db", "upgrade"], ["keys", "export"]):
        result = unionbot(*command, env=env, cwd=tmp_path)
        assert result.returncode == 2
        assert expected in one_line(result.stderr)


def test_unknown_variables_are_warned_with_the_closest_known_one(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("UNIONBOT_DATABSE_URL=sqlite+aiosqlite:///elsewhere.db\n")
    result = unionbot("db", "upgrade", cwd=tmp_path, env={"UNIONBOT_LOGLEVEL": "DEBUG"})
    assert result.returncode == 0, result.stderr.decode()
    warnings = result.stderr.decode()
    assert "UNIONBOT_DATABSE_URL in .env is ignored; did you mean UNIONBOT_DATABASE_URL?" in (
        warnings
    )
    assert "UNIONBOT_LOGLEVEL in environment is ignored; did you mean UNIONBOT_LOG_LEVEL?" in (
        warnings
    )


def test_json_logs_are_one_object_a_line(tmp_path: Path) -> None:
    result = unionbot(
        "db", "upgrade", cwd=tmp_path, env={"UNIONBOT_LOG_FORMAT": "json", "UNIONBOT_X": "1"}
    )
    [entry] = [json.loads(line) for line in result.stderr.decode().splitlines()]
    assert entry["level"] == "WARNING" and "UNIONBOT_X" in entry["message"]
    assert {"time", "logger"} <= set(entry)
