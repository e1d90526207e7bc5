"""Nothing secret leaves the process in a log line, whatever the level.

Every record passes :class:`Redactor` on its way to the handler: the configured secrets
(the Telegram token and webhook secret, the WeChat AppSecret, token and AES key, the
database's and Redis's passwords) are replaced wherever they appear, message or
traceback, and so are the query strings of URLs (WeChat's ``access_token``, ``secret``,
``signature`` and ``nonce`` travel there) and the token in Bot API paths (``/bot<token>/``).
Libraries that log what they send or store at DEBUG (PTB the texts, aiosqlite and
SQLAlchemy every SQL parameter: contacts, dialog data, receipts) are kept at
:data:`LIBRARY_FLOORS` so those lines are never made at all.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from sqlalchemy.engine import make_url

from bot.settings import Settings

HIDDEN = "***"
LIBRARY_FLOORS = {
    "alembic": logging.WARNING,
    "apscheduler": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "telegram": logging.INFO,
    "redis": logging.WARNING,
}
"""The most a library may log; a quieter ``UNIONBOT_LOG_LEVEL`` quiets it further."""
QUERY = re.compile(r"\?[^\s\"'<>]*=[^\s\"'<>]*")
BOT_PATH = re.compile(r"/bot\d+:[A-Za-z0-9_-]+")
SHORTEST_SECRET = 6
"""Shorter values would blank out ordinary words; no real secret is this short."""


class Redactor(logging.Filter):
    def __init__(self, secrets: Iterable[str | None]) -> None:
        super().__init__()
        found = {s for s in secrets if s and len(s) >= SHORTEST_SECRET}
        self.secrets = sorted(found, key=len, reverse=True)

    @classmethod
    def for_settings(cls, settings: Settings) -> Redactor:
        return cls(
            [
                settings.telegram_token,
                settings.telegram_webhook_secret,
                settings.wechat_app_secret,
                settings.wechat_token,
                settings.wechat_aes_key,
                _password(settings.database_url),
                _password(settings.redis_url),
            ]
        )

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, HIDDEN)
        return QUERY.sub("?" + HIDDEN, BOT_PATH.sub("/bot" + HIDDEN, text))

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def quiet_libraries(level: int) -> None:
    for library, floor in LIBRARY_FLOORS.items():
        logging.getLogger(library).setLevel(max(level, floor))


def _password(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return make_url(url).password
    except Exception:
        return None
