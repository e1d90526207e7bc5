"""Splitting long texts, without a platform."""

from __future__ import annotations

from bot.channels.limits import split_text


def test_split_text_cuts_at_line_ends_and_overlong_lines_at_the_limit() -> None:
    assert split_text("a" * 10 + "\nbb", limit=4) == ["aaaa", "aaaa", "aa", "bb"]
    assert split_text("one\ntwo\nthree", limit=8) == ["one\ntwo", "three"]
    assert split_text("short", limit=8) == ["short"]
    assert split_text("", limit=10) == ["…"]
