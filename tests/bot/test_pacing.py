"""Pacing: never more than the limit in any one-second window, close to it overall, one
message a second per chat, and a platform's retry_after pauses the channel."""

from __future__ import annotations

from bot.pacing import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_thirty_a_second_never_more_in_any_second() -> None:
    clock = FakeClock()
    pacer = Pacer(30, clock=clock, sleep=clock.sleep)
    times = []
    for n in range(300):
        await pacer.acquire(f"chat{n}")
        times.append(clock.now)
    assert max_in_any_window(times) == 30
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert 0.95 * 30 <= rate <= 30 * 1.01


async def test_one_message_a_second_to_the_same_chat() -> None:
    clock = FakeClock()
    pacer = Pacer(30, per_chat_gap=1.0, clock=clock, sleep=clock.sleep)
    await pacer.acquire("a")
    start = clock.now
    await pacer.acquire("b")
    assert clock.now - start < 0.1
    await pacer.acquire("a")
    assert clock.now - start >= 1.0


async def test_retry_after_pauses_every_send() -> None:
    clock = FakeClock()
    pacer = Pacer(30, clock=clock, sleep=clock.sleep)
    await pacer.acquire("a")
    pacer.hold(5)
    start = clock.now
    await pacer.acquire("b")
    assert clock.now - start >= 5


async def test_an_unpaced_channel_never_waits() -> None:
    clock = FakeClock()
    pacer = Pacer(0, clock=clock, sleep=clock.sleep)
    for n in range(1000):
        await pacer.acquire(str(n))
    assert clock.now == 1000.0
