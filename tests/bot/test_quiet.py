"""Quiet hours: a non-urgent message written at night waits until the morning, local time."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from bot.quiet import member_window, release_time
from bot.settings import Settings
from storage.models import MemberSettings

SHANGHAI = ZoneInfo("Asia/Shanghai")
WINDOW = (time(22, 0), time(7, 30))


def at(local: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=SHANGHAI).astimezone(UTC)


def test_late_evening_waits_until_half_past_seven_next_morning() -> None:
    assert release_time(at("2026-11-24 23:15"), WINDOW, SHANGHAI) == at("2026-11-25 07:30")


def test_early_morning_waits_until_half_past_seven_the_same_day() -> None:
    assert release_time(at("2026-11-25 03:00"), WINDOW, SHANGHAI) == at("2026-11-25 07:30")


def test_daytime_goes_at_once_and_the_window_ends_are_exact() -> None:
    assert release_time(at("2026-11-25 12:00"), WINDOW, SHANGHAI) == at("2026-11-25 12:00")
    assert release_time(at("2026-11-25 07:30"), WINDOW, SHANGHAI) == at("2026-11-25 07:30")
    assert release_time(at("2026-11-25 22:00"), WINDOW, SHANGHAI) == at("2026-11-26 07:30")


def test_a_daytime_window_and_no_window() -> None:
    nap = (time(12, 0), time(13, 30))
    assert release_time(at("2026-11-25 12:10"), nap, SHANGHAI) == at("2026-11-25 13:30")
    assert release_time(at("2026-11-25 23:00"), None, SHANGHAI) == at("2026-11-25 23:00")


def test_the_member_choice_beats_the_default() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert member_window(settings, None) == WINDOW
    off = MemberSettings(member_id=1, reminders=True, quiet_hours=False)
    assert member_window(settings, off) is None
    own = MemberSettings(
        member_id=1, reminders=True, quiet_hours=True, quiet_start="23:00", quiet_end="06:00"
    )
    assert member_window(settings, own) == (time(23, 0), time(6, 0))
    none = Settings(quiet_hours="", _env_file=None)  # type: ignore[call-arg]
    assert member_window(none, None) is None
