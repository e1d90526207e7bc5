"""Quiet hours: non-urgent messages wait until the member's morning.

The default window (``UNIONBOT_QUIET_HOURS``, 22:00–07:30) is in local time
(``UNIONBOT_TIMEZONE``); a member may change it or switch it off in ``/settings``.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.settings import Settings, parse_window
from storage.models import MemberSettings

Window = tuple[time, time]


def member_window(settings: Settings, chosen: MemberSettings | None) -> Window | None:
    """The member's quiet hours, or None when they have switched them off."""
    if chosen is None:
        return settings.quiet_window
    if not chosen.quiet_hours:
        return None
    if chosen.quiet_start and chosen.quiet_end:
        return parse_window(f"{chosen.quiet_start}-{chosen.quiet_end}")
    return settings.quiet_window


def release_time(now: datetime, window: Window | None, zone: ZoneInfo) -> datetime:
    """``now``, or the end of the quiet hours when ``now`` falls inside them (in UTC)."""
    if window is None:
        return now
    local = now.astimezone(zone)
    start, end = window
    clock = local.time().replace(tzinfo=None)
    inside = start <= clock < end if start < end else (clock >= start or clock < end)
    if not inside:
        return now
    morning = datetime.combine(local.date(), end, tzinfo=zone)
    if morning <= local:
        morning += timedelta(days=1)
    return morning.astimezone(UTC)
