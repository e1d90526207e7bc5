"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, DateTime, Dialect, SQLColumnExpression, String, cast
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back time-zone aware.

    SQLite has no time zones and hands back naive values; this keeps every datetime in the
    code aware, so comparing a stored time with ``now()`` never mixes the two kinds.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_text(
    column: SQLColumnExpression[int] | SQLColumnExpression[int | None],
) -> ColumnElement[str]:
    """A number column as text, to compare with a text value that may not be a number:
    casting the text to a number instead fails on PostgreSQL for one that is not."""
    return cast(column, String)
