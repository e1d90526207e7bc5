"""Logging set-up: plain lines, or one JSON object a line (``UNIONBOT_LOG_FORMAT=json``) for
log collectors (journald, Loki, Elasticsearch) that index fields rather than parse text."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from bot.redaction import Redactor, quiet_libraries
from bot.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"}``, plus ``"exception"`` with the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    handler.addFilter(Redactor.for_settings(settings))
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)
    quiet_libraries(logging.getLogger().level)
