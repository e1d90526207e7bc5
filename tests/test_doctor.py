"""``unionbot doctor``: all well on the demo and on a set-up whose channels answer; one
clear failing line for each broken set-up, against the fake Bot API and WeChat servers."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.channels.fake_telegram import TOKEN as TELEGRAM_TOKEN
from tests.channels.fake_telegram import FakeTelegram
from tests.test_cli import unionbot
from tests.wechat_support import APP_ID, FakeWeChat, served
from tests.wechat_support import TOKEN as WECHAT_TOKEN


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where ``unionbot demo`` ran: database, keys."""
    folder = tmp_path_factory.mktemp("demo")
    assert unionbot("demo", cwd=folder).returncode == 0
    return folder


@pytest.fixture
def here(demo_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "here"
    shutil.copytree(demo_dir, copy)
    return copy


async def doctor(here: Path, **env: str) -> tuple[int, list[str]]:
    result = await asyncio.to_thread(unionbot, "doctor", cwd=here, env=env)
    return result.returncode, result.stdout.decode().splitlines()


def failing(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("FAIL")]


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def wechat() -> AsyncIterator[str]:
    async with served(FakeWeChat().app()) as url:
        yield url


def channels(telegram: FakeTelegram, wechat: str) -> dict[str, str]:
    return {
        "UNIONBOT_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
        "UNIONBOT_TELEGRAM_API_URL": telegram.url,
        "UNIONBOT_WECHAT_APP_ID": APP_ID,
        "UNIONBOT_WECHAT_APP_SECRET": "app-secret",
        "UNIONBOT_WECHAT_TOKEN": WECHAT_TOKEN,
        "UNIONBOT_WECHAT_API_URL": wechat,
    }


async def test_the_demo_is_all_well(here: Path) -> None:
    status, lines = await doctor(here)
    assert status == 0 and lines[-1] == "all well", lines
    assert lines[1].startswith("ok   database") and lines[2].startswith("ok   key folder")


async def test_answering_channels_are_all_well(
    here: Path, telegram: FakeTelegram, wechat: str
) -> None:
    telegram.webhook = {"url": "https://bot.example.org/telegram"}
    env = channels(telegram, wechat) | {
        "UNIONBOT_TELEGRAM_WEBHOOK_URL": "https://bot.example.org/telegram"
    }
    status, lines = await doctor(here, **env)
    assert status == 0, lines
    assert "ok   Telegram: @union_test_bot, token accepted, webhook" in "\n".join(lines)
    assert f"ok   WeChat: {APP_ID}: app id and secret accepted" in lines


async def test_an_unreachable_database(here: Path) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/unionbot"
    status, lines = await doctor(here, UNIONBOT_DATABASE_URL=url)
    assert status == 1
    [line] = failing(lines)
    assert line.startswith("FAIL database") and "start PostgreSQL" in line


async def test_a_database_in_a_missing_folder(here: Path) -> None:
    url = "sqlite+aiosqlite:///no/such/folder/x.db"
    status, lines = await doctor(here, UNIONBOT_DATABASE_URL=url)
    [line] = failing(lines)
    assert status == 1 and line.startswith("FAIL database")
    assert f"the folder {here / 'no/such/folder'} does not exist" in line
    assert not (here / "no").exists()


async def test_a_database_not_migrated(here: Path) -> None:
    (here / "empty.db").touch()
    status, lines = await doctor(here, UNIONBOT_DATABASE_URL="sqlite+aiosqlite:///empty.db")
    [line] = failing(lines)
    assert status == 1 and "no schema" in line and "run unionbot db upgrade" in line


async def test_a_key_folder_others_may_read(here: Path) -> None:
    (here / "keys").chmod(0o755)
    status, lines = await doctor(here)
    [line] = failing(lines)
    assert status == 1 and line.startswith("FAIL key folder") and "chmod 700 keys" in line


async def test_a_lost_key_folder(here: Path) -> None:
    shutil.rmtree(here / "keys")
    status, lines = await doctor(here)
    [line] = failing(lines)
    assert status == 1 and "keys is missing" in line and "unionbot restore" in line


async def test_a_refused_telegram_token(here: Path, telegram: FakeTelegram, wechat: str) -> None:
    env = channels(telegram, wechat) | {"UNIONBOT_TELEGRAM_TOKEN": "123456:WRONG"}
    status, lines = await doctor(here, **env)
    [line] = failing(lines)
    assert status == 1 and "token was refused" in line and "@BotFather" in line


async def test_a_webhook_not_registered(here: Path, telegram: FakeTelegram, wechat: str) -> None:
    env = channels(telegram, wechat) | {
        "UNIONBOT_TELEGRAM_WEBHOOK_URL": "https://bot.example.org/telegram"
    }
    status, lines = await doctor(here, **env)
    [line] = failing(lines)
    assert status == 1 and "webhook is not registered" in line


async def test_refused_wechat_credentials(here: Path, telegram: FakeTelegram, wechat: str) -> None:
    env = channels(telegram, wechat) | {"UNIONBOT_WECHAT_APP_SECRET": "wrong"}
    status, lines = await doctor(here, **env)
    [line] = failing(lines)
    assert status == 1 and "40125" in line and "UNIONBOT_WECHAT_APP_SECRET" in line


async def test_a_misspelt_setting(here: Path) -> None:
    (here / ".env").write_text("UNIONBOT_TELEGRAM_TOKN=123\n")
    status, lines = await doctor(here)
    [line] = failing(lines)
    assert status == 1 and "did you mean UNIONBOT_TELEGRAM_TOKEN?" in line
