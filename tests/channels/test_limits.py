"""Pacing bulk sends and splitting long texts, without a platform."""

from __future__ import annotations

import pytest

from bot.channels.limits import Pacer, split_text


async def test_the_pacer_spaces_all_sends_and_more_so_those_to_one_chat() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    pacer = Pacer(per_second=10, per_chat_seconds=1.0, sleep=sleep)
    await pacer.wait("a")
    await pacer.wait("b")
    await pacer.wait("c")
    await pacer.wait("a")
    assert len(waits) == 3
    assert waits[0] == pytest.approx(0.1, abs=0.05)
    assert waits[1] == pytest.approx(0.2, abs=0.05)
    assert waits[2] == pytest.approx(1.0, abs=0.05)


def test_split_text_cuts_at_line_ends_and_overlong_lines_at_the_limit() -> None:
    assert split_text("a" * 10 + "\nbb", limit=4) == ["aaaa", "aaaa", "aa", "bb"]
    assert split_text("one\ntwo\nthree", limit=8) == ["one\ntwo", "three"]
    assert split_text("short", limit=8) == ["short"]
    assert split_text("", limit=10) == ["…"]
