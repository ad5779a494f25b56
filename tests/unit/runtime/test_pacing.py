"""The pacer: a rolling window per worker process, the limit shared by replicas, and a stop that
wakes whoever waits. A fake clock: `sleep` moves it instead of waiting."""

from __future__ import annotations

import asyncio

import pytest

from libs.runtime.pacing import Pacer, PacingStopped


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> bool:
        self.slept.append(seconds)
        self.now += seconds
        return True


def paced(limit: int, window: float, replicas: int = 1) -> tuple[Pacer, FakeClock]:
    clock = FakeClock()
    return Pacer(limit, window, replicas=replicas, clock=clock, sleep=clock.sleep), clock


async def test_the_limit_passes_within_a_window_and_the_next_call_waits_for_the_oldest() -> None:
    pacer, clock = paced(3, 10.0)
    for _ in range(3):
        assert await pacer.acquire() == 0
        clock.now += 1  # sent at 1000, 1001, 1002
    assert await pacer.acquire() == pytest.approx(7.0)  # until 1000 leaves the window
    assert clock.slept == [pytest.approx(7.0)]


async def test_the_window_rolls() -> None:
    pacer, clock = paced(2, 10.0)
    await pacer.acquire()
    await pacer.acquire()
    clock.now += 10.0
    assert await pacer.acquire() == 0
    assert await pacer.acquire() == 0
    assert clock.slept == []


async def test_replicas_divide_the_limit() -> None:
    pacer, clock = paced(120, 60.0, replicas=4)
    assert (pacer.share, pacer.rate) == (30, 0.5)
    for _ in range(30):
        await pacer.acquire()
    assert clock.slept == []
    assert await pacer.acquire() == pytest.approx(60.0)


async def test_zero_turns_pacing_off() -> None:
    pacer, clock = paced(0, 60.0)
    for _ in range(1000):
        await pacer.acquire()
    assert (pacer.rate, clock.slept) == (0.0, [])


async def test_stop_wakes_a_waiter_and_a_call_with_a_free_turn_still_goes() -> None:
    pacer = Pacer(2, 3600.0)  # the real, stop-aware sleep
    await pacer.acquire()
    waiter = asyncio.create_task(pacer.acquire())  # the second turn: free
    assert await waiter == pytest.approx(0, abs=0.1)
    waiters = [asyncio.create_task(pacer.acquire()) for _ in range(2)]  # an hour's wait each
    await asyncio.sleep(0.01)
    assert pacer.waiting == 2
    pacer.stop()
    for task in waiters:
        with pytest.raises(PacingStopped):
            await asyncio.wait_for(task, 1.0)
    assert pacer.waiting == 0


async def test_waiting_calls_leave_the_event_loop_free() -> None:
    pacer = Pacer(1, 0.2)
    await pacer.acquire()
    waiter = asyncio.create_task(pacer.acquire())
    other = await asyncio.wait_for(asyncio.sleep(0.01, result="done"), 0.1)
    assert other == "done"
    assert not waiter.done()
    assert await asyncio.wait_for(waiter, 1.0) == pytest.approx(0.2, abs=0.1)
