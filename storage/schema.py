"""All tables, for migrations and schema checks: importing this imports every model module."""

from __future__ import annotations

from typing import Any

from storage.models import (  # noqa: F401  (each model module, for metadata)
    bargaining,
    benefits,
    core,
    events,
    invites,
    keys,
    notices,
    places,
    singles,
    web,
    wechat,
    wechat_quota,
)

metadata = core.Base.metadata

SCHEDULER_TABLE = "apscheduler_jobs"
"""APScheduler's job store creates and owns this table; migrations leave it alone."""


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    return not (type_ == "table" and name == SCHEDULER_TABLE)
