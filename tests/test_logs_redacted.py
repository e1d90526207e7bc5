"""No secret or personal datum reaches the log, even at DEBUG: a member's profile contact,
a model worker's ID number and a vote receipt on the console, a Telegram chat, WeChat's
webhook and API (AppSecret and access_token in URLs), all with the log at DEBUG, then the
whole captured log is searched for every one of them and for the database password."""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from bot.app import App
from bot.logs import configure_logging
from bot.messages import Outgoing
from bot.redaction import LIBRARY_FLOORS
from bot.settings import Settings
from tests.bot.test_wechat import OPENID
from tests.channels.conftest import WEBHOOK_SECRET, make_channel, telegram_settings
from tests.channels.fake_telegram import FakeTelegram
from tests.conftest import Chat
from tests.handlers.test_bargaining import as_, member_id, running_session, to
from tests.handlers.test_model_workers import WANG_ID, claim
from tests.singles import WOMAN, create_profile
from tests.test_cli import unionbot
from tests.wechat_support import FakeWeChat, WeChatServer, wechat_bot
from unionbot.app import build_app

DB_PASSWORD = "db-pw-k7Qx2"


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """The test sets up logging as ``unionbot`` does; the other tests get theirs back."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in LIBRARY_FLOORS})
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def with_password(url: str) -> str:
    """The database URL with a password (PostgreSQL's trust login ignores it)."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return url
    return parsed.set(password=DB_PASSWORD).render_as_string(hide_password=False)


async def test_a_full_flow_at_debug_logs_no_secret_and_no_personal_datum(
    settings: Settings, restored_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_telegram = FakeTelegram()
    await fake_telegram.start()
    configured = telegram_settings(settings, fake_telegram).model_copy(
        update={"database_url": with_password(settings.database_url), "log_level": "DEBUG"}
    )
    captured = io.StringIO()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stderr", captured)
        configure_logging(configured)
    logging.getLogger("bot").debug("logging at DEBUG")
    app: App = build_app(configured)
    receipt = await console_flow(app)
    telegram = make_channel(app, fake_telegram)
    await telegram.start(webhook=False)
    try:
        await fake_telegram.say(1001, "/start")
        await fake_telegram.say(1001, WOMAN["contact"])
    finally:
        await telegram.stop()
        await fake_telegram.stop()
        await app.close()

    fake_wechat = FakeWeChat()
    async with wechat_bot(configured, fake_wechat, wechat_aes_key=None) as (_, channel, base, _):
        server = WeChatServer(base, plain=True)
        await server.says(OPENID, "/help")
        await channel.send(OPENID, Outgoing(f"您的回执码是 {receipt}"))
        await server.close()

    log = captured.getvalue()
    assert "logging at DEBUG" in log, "the log was captured"
    assert '"POST /wechat?*** HTTP/1.1" 200' in log, "the access log without its query"
    secrets = {
        "Telegram token": fake_telegram.token,
        "Telegram token's secret part": fake_telegram.token.split(":", 1)[1],
        "webhook secret": WEBHOOK_SECRET,
        "WeChat AppSecret": fake_wechat.secret,
        "contact": WOMAN["contact"],
        "ID number": WANG_ID,
        "receipt": receipt,
        **{f"access token {n}": token for n, token in enumerate(fake_wechat.tokens_issued)},
    }
    if DB_PASSWORD in configured.database_url:
        secrets["database password"] = DB_PASSWORD
    assert fake_wechat.tokens_issued, "the flow used an access token"
    leaked = {what: value for what, value in secrets.items() if value in log}
    assert leaked == {}


async def console_flow(app: App) -> str:
    """A profile with a contact, a model-worker claim, a vote: returns the vote's receipt."""
    chat = Chat(app, "chair")
    _, code = await running_session(app, chat, step=2)
    assert "已保存" in await create_profile(chat, "xiaohe", WOMAN)
    assert "认证成功" in await claim(Chat(app, "laomo"))
    await as_(chat, "xiaowang", f"/join {code}")
    zhang, wang = await member_id(app, "xiaozhang"), await member_id(app, "xiaowang")
    await chat.say(f"/election 1 24 {zhang} {wang}")
    [invitation] = [m for m in await as_(chat, "xiaowang", "/vote") if m["to"] == "xiaowang"]
    voted = to(
        await as_(chat, "xiaowang", {"press": invitation["buttons"][0][0]["payload"]}), "xiaowang"
    )
    found = re.search(r"回执码是 ([A-Z2-9]{8})", voted)
    assert found is not None, voted
    return found.group(1)


def test_db_upgrade_prints_the_database_url_without_its_password(database_url: str) -> None:
    url = with_password(database_url)
    if DB_PASSWORD not in url:
        pytest.skip("a SQLite URL has no password")
    done = unionbot("db", "upgrade", url=url, env={"UNIONBOT_LOG_LEVEL": "DEBUG"})
    assert done.returncode == 0, done.stderr.decode()
    assert b"newest schema" in done.stdout and b"***" in done.stdout
    assert DB_PASSWORD.encode() not in done.stdout + done.stderr
