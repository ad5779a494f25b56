"""The pacer: a rolling window per worker process, the limit shared by replicas, a stop that
wakes whoever waits, and priorities (an urgent call, a revocation, goes ahead of the waiting
ones). A fake clock: `sleep` moves it instead of waiting; a gated one holds every nap until the
test opens the gate, so calls can queue up first."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from libs.runtime.pacing import NORMAL, URGENT, Pacer, PacingStopped, call_priority, prioritised


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


class GatedClock(FakeClock):
    """Naps wait for the gate; once it is open, time flows (each nap moves the clock)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def sleep(self, seconds: float) -> bool:
        await self.gate.wait()
        return await super().sleep(seconds)


def paced(limit: int, window: float, replicas: int = 1) -> tuple[Pacer, FakeClock]:
    clock = FakeClock()
    pacer = Pacer(
        limit, window, replicas=replicas, clock=clock, sleep=clock.sleep, margin=0, spread=1
    )
    return pacer, clock


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
    pacer = Pacer(2, 3600.0, spread=1)  # the real, stop-aware sleep
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
    pacer = Pacer(1, 0.2, margin=0)
    await pacer.acquire()
    waiter = asyncio.create_task(pacer.acquire())
    other = await asyncio.wait_for(asyncio.sleep(0.01, result="done"), 0.1)
    assert other == "done"
    assert not waiter.done()
    assert await asyncio.wait_for(waiter, 1.0) == pytest.approx(0.2, abs=0.1)


def gated(limit: int, window: float) -> tuple[Pacer, GatedClock]:
    clock = GatedClock()
    return Pacer(limit, window, clock=clock, sleep=clock.sleep, margin=0, spread=1), clock


async def settle() -> None:
    """Let every task run until it waits (nothing here waits on real time)."""
    for _ in range(20):
        await asyncio.sleep(0)


def queue_up(
    pacer: Pacer, sent: list[str], calls: Sequence[tuple[str, int | None]]
) -> list[asyncio.Task[None]]:
    async def call(name: str, priority: int | None) -> None:
        await pacer.acquire(priority)
        sent.append(name)

    return [asyncio.create_task(call(name, priority)) for name, priority in calls]


async def test_an_urgent_call_goes_ahead_of_the_waiting_ones_but_not_of_one_sent() -> None:
    pacer, clock = gated(1, 10.0)
    await pacer.acquire()  # sent at 1000: the window's only slot
    sent: list[str] = []
    tasks = queue_up(pacer, sent, [("grant-1", None), ("grant-2", None), ("grant-3", None)])
    await settle()
    assert pacer.waiting == 3
    tasks += queue_up(pacer, sent, [("revoke", URGENT)])
    await settle()
    assert (pacer.waiting, sent) == (4, [])
    clock.gate.set()
    await asyncio.gather(*tasks)
    assert sent == ["revoke", "grant-1", "grant-2", "grant-3"]
    assert clock.now == 1040.0  # one slot per window throughout: nothing went early
    assert pacer.waiting == 0


async def test_within_a_priority_calls_go_in_arrival_order() -> None:
    pacer, clock = gated(2, 10.0)
    await pacer.acquire()
    await pacer.acquire()
    sent: list[str] = []
    arrivals = [("n1", NORMAL), ("u1", URGENT), ("n2", NORMAL), ("u2", URGENT), ("n3", NORMAL)]
    tasks = []
    for arrival in arrivals:  # one at a time, so the arrival order is the list's
        tasks += queue_up(pacer, sent, [arrival])
        await settle()
    clock.gate.set()
    await asyncio.gather(*tasks)
    assert sent == ["u1", "u2", "n1", "n2", "n3"]


async def test_acquire_takes_its_priority_from_the_context() -> None:
    pacer, clock = gated(1, 10.0)
    await pacer.acquire()
    sent: list[str] = []

    async def revoke() -> None:
        with prioritised(URGENT):
            assert call_priority.get() == URGENT
            await pacer.acquire()  # what ProviderHttp does: no argument
        assert call_priority.get() == NORMAL
        sent.append("revoke")

    tasks = queue_up(pacer, sent, [("grant", None)])
    await settle()
    tasks.append(asyncio.create_task(revoke()))
    await settle()
    with prioritised(URGENT):  # an explicit priority wins over the context's
        tasks += queue_up(pacer, sent, [("explicit-normal", NORMAL)])
    await settle()
    clock.gate.set()
    await asyncio.gather(*tasks)
    assert sent == ["revoke", "grant", "explicit-normal"]
    assert call_priority.get() == NORMAL


async def test_a_cancelled_waiter_leaves_the_queue_without_wedging_it() -> None:
    pacer, clock = gated(1, 10.0)
    await pacer.acquire()
    sent: list[str] = []
    head, middle, last = queue_up(pacer, sent, [("head", None), ("middle", None), ("last", None)])
    await settle()
    urgent = queue_up(pacer, sent, [("urgent", URGENT)])[0]
    await settle()
    for task in (urgent, head, middle):  # the head (napping), the one it overtook, one behind
        task.cancel()
    await settle()
    assert pacer.waiting == 1
    clock.gate.set()
    await asyncio.wait_for(last, 1.0)
    assert (sent, pacer.waiting, clock.now) == (["last"], 0, 1010.0)
    assert all(task.cancelled() for task in (urgent, head, middle))


async def test_an_urgent_call_wakes_the_napping_head_with_the_real_sleep() -> None:
    pacer = Pacer(1, 0.05, margin=0)
    await pacer.acquire()
    sent: list[str] = []
    tasks = queue_up(pacer, sent, [("grant", None)])
    await asyncio.sleep(0.01)
    tasks += queue_up(pacer, sent, [("revoke", URGENT)])
    await asyncio.wait_for(asyncio.gather(*tasks), 1.0)
    assert sent == ["revoke", "grant"]


async def test_stop_wakes_every_waiter_of_every_priority() -> None:
    pacer = Pacer(1, 3600.0)  # the real, stop-aware sleep
    await pacer.acquire()
    sent: list[str] = []
    calls = [("n1", NORMAL), ("u1", URGENT), ("n2", NORMAL), ("u2", URGENT)]
    tasks = queue_up(pacer, sent, calls)
    await settle()
    assert pacer.waiting == 4
    pacer.stop()
    for task in tasks:
        with pytest.raises(PacingStopped):
            await asyncio.wait_for(task, 1.0)
    assert (sent, pacer.waiting) == ([], 0)


async def test_the_share_is_spread_over_the_window() -> None:
    # Kit: 120 a minute. At most 10 go at once (a burst lasts 5 s at most); the 11th waits 5 s,
    # not the whole minute, so an urgent call that arrives after a burst waits seconds.
    clock = FakeClock()
    pacer = Pacer(120, 60.0, clock=clock, sleep=clock.sleep, margin=0)
    for _ in range(10):
        assert await pacer.acquire() == 0
    assert await pacer.acquire() == pytest.approx(5.0)
    for _ in range(9):
        assert await pacer.acquire() == 0  # the next burst
    assert pacer.rate == pytest.approx(2.0)


async def test_a_long_window_is_spread_in_bursts_of_seconds() -> None:
    # Circle: 2,000 per 5 minutes; a tenth would be 200 calls in 30 s, and a revocation behind
    # them would wait up to 30 s. Bursts of 5 s: 33 calls, then the next 5 s.
    clock = FakeClock()
    pacer = Pacer(2000, 300.0, clock=clock, sleep=clock.sleep, margin=0)
    for _ in range(33):
        assert await pacer.acquire() == 0
    assert await pacer.acquire() == pytest.approx(4.95)


async def test_the_window_keeps_a_margin_over_the_providers() -> None:
    # A call reaches the provider a moment after it leaves: one sent exactly a window after
    # another could still be counted inside the provider's window.
    clock = FakeClock()
    pacer = Pacer(1, 60.0, clock=clock, sleep=clock.sleep)
    await pacer.acquire()
    assert await pacer.acquire() == pytest.approx(61.2)  # 2 % of the window
    assert pacer.rate == pytest.approx(1 / 61.2)
