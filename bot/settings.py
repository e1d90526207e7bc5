"""All configuration, from ``UNIONBOT_*`` environment variables and an optional ``.env``.

Each field is documented in the README's configuration table; keep the two in step.
"""

from __future__ import annotations

import difflib
import os
from datetime import time
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.messages import Notification

LANGUAGES = ("zh_CN", "en")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
REDIS_SCHEMES = ("redis", "rediss", "unix")
PREFIX = "UNIONBOT_"
TEST_VARIABLES = frozenset({"UNIONBOT_TEST_POSTGRES_URL", "UNIONBOT_REQUIRE_POSTGRES"})
"""Read by the test suite, not by the bot; known, so never warned about."""
SQLITE_PREFIX = "sqlite+aiosqlite:///"
DEMO_URL = "sqlite+aiosqlite:///unionbot.db"
"""The demo's database: a file in the working directory."""


def parse_window(text: str) -> tuple[time, time] | None:
    """``"22:00-07:30"`` as two times; None when malformed or empty (start equals end)."""
    start, sep, end = text.strip().partition("-")
    if not sep:
        return None
    try:
        window = (time.fromisoformat(start.strip()), time.fromisoformat(end.strip()))
    except ValueError:
        return None
    if window[0] == window[1] or any(len(part.strip()) != 5 for part in (start, end)):
        return None
    return window


class SettingsError(Exception):
    """A missing or malformed setting, phrased as one line for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UNIONBOT_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///unionbot.db"
    default_language: str = "zh_CN"
    timezone: str = "Asia/Shanghai"
    form_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    key_dir: Path = Path("keys")
    media_dir: Path = Path("media")
    model_worker_code_minutes: int = Field(default=5, ge=1, le=60)
    log_level: str = "INFO"
    log_format: str = "text"
    telegram_token: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_webhook_secret: str | None = None
    telegram_webhook_url: str | None = None
    wechat_app_id: str | None = None
    wechat_app_secret: str | None = None
    wechat_token: str | None = None
    wechat_aes_key: str | None = None
    wechat_api_url: str = "https://api.weixin.qq.com"
    wechat_max_age: int = Field(default=300, ge=0)
    congress_quorum: str = "2/3"
    congress_majority: str = "1/2"
    wechat_reply_seconds: float = Field(default=4.0, gt=0, le=4.5)
    wechat_template_id: str | None = None
    wechat_templates: dict[str, str] = Field(default_factory=dict)
    """Notification kind -> template id; a kind without its own uses ``wechat_template_id``."""
    wechat_template_quota: int = Field(default=100_000, ge=0)
    """Template messages the account may send a day (WeChat's daily quota for it)."""
    wechat_qrcode_url: str = "https://mp.weixin.qq.com/cgi-bin/showqrcode"
    redis_url: str | None = None
    quiet_hours: str = "22:00-07:30"
    telegram_rate: float = Field(default=30.0, gt=0)
    wechat_rate: float = Field(default=20.0, gt=0)
    leader_check_seconds: float = Field(default=5.0, gt=0, le=300)
    sender_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    scheduler_wakeup_seconds: float = Field(default=10.0, gt=0, le=600)
    web_url: str | None = None
    web_link_minutes: int = Field(default=30, ge=1, le=24 * 60)
    web_session_hours: int = Field(default=8, ge=1, le=72)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
                "(for example sqlite+aiosqlite:///unionbot.db)"
            )
        return value

    @field_validator("web_url")
    @classmethod
    def _web_root(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("https://", "http://")) or "?" in value or "#" in value:
            raise ValueError("must be the pages' public root, such as https://bot.example.org")
        return value.rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.strip().upper()

    @field_validator("log_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value.strip().lower() not in LOG_FORMATS:
            raise ValueError(f"must be one of {', '.join(LOG_FORMATS)}")
        return value.strip().lower()

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str | None) -> str | None:
        if not value:
            return None
        if urlsplit(value).scheme not in REDIS_SCHEMES:
            raise ValueError(
                "must start with redis://, rediss:// or unix:// (for example redis://127.0.0.1:6379/0)"
            )
        try:
            import redis  # noqa: F401
        except ImportError:
            raise ValueError(
                "needs the redis extra: pip install 'unionbot[redis]' (or unset it)"
            ) from None
        return value

    @field_validator("congress_quorum", "congress_majority")
    @classmethod
    def _share(cls, value: str) -> str:
        try:
            share = Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            share = Fraction(0)
        if not 0 < share <= 1:
            raise ValueError("must be a fraction between 0 and 1, such as 2/3")
        return value.strip()

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"must be one of {', '.join(LANGUAGES)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a known time zone, e.g. Asia/Shanghai") from None
        return value

    @field_validator("wechat_aes_key")
    @classmethod
    def _aes_key(cls, value: str | None) -> str | None:
        if not value:
            return None
        if len(value) != 43 or not value.isalnum():
            raise ValueError("must be the 43 letters and digits of the EncodingAESKey")
        return value

    @field_validator("wechat_templates")
    @classmethod
    def _template_kinds(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(Notification))
        if unknown:
            known = ", ".join(Notification)
            raise ValueError(f"unknown kind {', '.join(unknown)}; the kinds are {known}")
        return {kind: template for kind, template in value.items() if template}

    def wechat_template(self, kind: str | None) -> str | None:
        """The template for messages of ``kind``: its own, else the default one."""
        return self.wechat_templates.get(kind or "") or self.wechat_template_id

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_window(cls, value: str) -> str:
        value = value.strip()
        if value and parse_window(value) is None:
            raise ValueError("must be HH:MM-HH:MM (for example 22:00-07:30) or empty")
        return value

    @property
    def quiet_window(self) -> tuple[time, time] | None:
        """The default quiet hours as local times, or None when there are none."""
        return parse_window(self.quiet_hours) if self.quiet_hours else None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class DemoSettings(Settings):
    """The demo's settings: only the defaults and what ``unionbot demo`` passes, never the
    environment or ``.env``, so a production ``UNIONBOT_DATABASE_URL`` cannot receive the
    demo's accounts and data, nor a production key folder sign its codes."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def demo_settings(language: str | None) -> Settings:
    """A SQLite file, keys and media in the working directory."""
    return DemoSettings(
        database_url=DEMO_URL,
        default_language=language or "zh_CN",
    )


def demo_database() -> Path:
    return Path(DEMO_URL.removeprefix(SQLITE_PREFIX)).resolve()


def load_settings() -> Settings:
    """Read the settings, turning pydantic's report into one clear line."""
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        name = PREFIX + str(first["loc"][0]).upper() if first["loc"] else PREFIX + "*"
        raise SettingsError(
            f"setting {name} {first['msg'].removeprefix('Value error, ')}"
        ) from None


def known_variables() -> set[str]:
    return {PREFIX + name.upper() for name in Settings.model_fields} | TEST_VARIABLES


def unknown_variables(env_file: Path = Path(".env")) -> list[str]:
    """One warning per ``UNIONBOT_*`` name in the environment or ``.env`` that no setting
    reads (a typo there otherwise leaves the default in force without a word)."""
    known = known_variables()
    names: dict[str, str] = {n: "environment" for n in os.environ if n.upper().startswith(PREFIX)}
    if env_file.is_file():
        found: dict[str, Any] = dotenv_values(env_file)
        names.update({n: str(env_file) for n in found if n.upper().startswith(PREFIX)})
    warnings = []
    for name, where in sorted(names.items()):
        if name.upper() in known:
            continue
        close = difflib.get_close_matches(name.upper(), sorted(known), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        warnings.append(f"unknown setting {name} in {where} is ignored{hint}")
    return warnings


def wechat_missing(settings: Settings) -> list[str]:
    """The WeChat settings the channel needs that are not set."""
    needed = {
        "UNIONBOT_WECHAT_APP_ID": settings.wechat_app_id,
        "UNIONBOT_WECHAT_APP_SECRET": settings.wechat_app_secret,
        "UNIONBOT_WECHAT_TOKEN": settings.wechat_token,
    }
    return [name for name, value in needed.items() if not value]
