"""Batcher: concurrent submits gathered into batch calls, each caller answered on its own."""

from __future__ import annotations

import asyncio
import time

import pytest

from libs.runtime.batcher import Batcher


class Upstream:
    """A batch endpoint: doubles each number, fails the ones in `bad`, and can be held open."""

    def __init__(self, bad: frozenset[int] = frozenset(), fail: Exception | None = None) -> None:
        self.calls: list[list[int]] = []
        self.bad = bad
        self.fail = fail
        self.hold: asyncio.Event | None = None
        self.called = asyncio.Event()

    async def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.calls.append(list(items))
        self.called.set()
        if self.hold is not None:
            await self.hold.wait()
        if self.fail is not None:
            raise self.fail
        return [ValueError(f"bad {i}") if i in self.bad else i * 2 for i in items]


async def test_concurrent_submits_share_one_flush() -> None:
    upstream = Upstream()
    batcher = Batcher(upstream, max_items=100, max_wait=0.05)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
    assert results == [i * 2 for i in range(10)]
    assert upstream.calls == [list(range(10))]


async def test_a_full_batch_goes_without_waiting_the_window() -> None:
    upstream = Upstream()
    batcher = Batcher(upstream, max_items=3, max_wait=30)
    started = time.monotonic()
    results = await asyncio.wait_for(asyncio.gather(*(batcher.submit(i) for i in range(6))), 2)
    assert time.monotonic() - started < 1
    assert results == [0, 2, 4, 6, 8, 10]
    assert upstream.calls == [[0, 1, 2], [3, 4, 5]]


async def test_a_partial_batch_goes_when_the_window_ends() -> None:
    upstream = Upstream()
    batcher = Batcher(upstream, max_items=100, max_wait=0.05)
    first = asyncio.ensure_future(batcher.submit(1))
    await asyncio.sleep(0.01)
    assert upstream.calls == []  # still gathering
    second = asyncio.ensure_future(batcher.submit(2))
    assert list(await asyncio.wait_for(asyncio.gather(first, second), 1)) == [2, 4]
    assert upstream.calls == [[1, 2]]
    assert await batcher.submit(3) == 6  # the next item opens a new window
    assert upstream.calls == [[1, 2], [3]]


@pytest.mark.parametrize(("max_items", "max_wait"), [(100, 0), (1, 30)])
async def test_no_gathering_sends_each_item_alone(max_items: int, max_wait: float) -> None:
    upstream = Upstream()
    batcher = Batcher(upstream, max_items=max_items, max_wait=max_wait)
    both = asyncio.gather(batcher.submit(1), batcher.submit(2))
    assert list(await asyncio.wait_for(both, 1)) == [2, 4]
    assert upstream.calls == [[1], [2]]


async def test_an_item_error_goes_to_that_item_only() -> None:
    batcher = Batcher(Upstream(bad=frozenset({2})), max_items=100, max_wait=0.01)
    results = await asyncio.gather(*(batcher.submit(i) for i in (1, 2, 3)), return_exceptions=True)
    assert results[0] == 2
    assert results[2] == 6
    assert isinstance(results[1], ValueError)
    assert str(results[1]) == "bad 2"


class Refused(Exception):
    def __init__(self, status: int, *, note: str = "") -> None:
        super().__init__(f"refused: {status}")
        self.status = status
        self.note = note


async def test_a_failed_flush_fails_every_item_with_its_own_copy() -> None:
    batcher = Batcher(Upstream(fail=Refused(429)), max_items=100, max_wait=0.01)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, Refused) and r.status == 429 for r in results)
    assert all(str(r) == "refused: 429" for r in results)
    # each caller may annotate its error without touching the others'
    assert len({id(r) for r in results}) == 3


async def test_a_new_batch_opens_while_one_is_in_flight() -> None:
    upstream = Upstream()
    upstream.hold = asyncio.Event()
    batcher = Batcher(upstream, max_items=2, max_wait=30)
    first = asyncio.gather(batcher.submit(1), batcher.submit(2))
    second = asyncio.gather(batcher.submit(3), batcher.submit(4))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert upstream.calls == [[1, 2], [3, 4]]  # both sent, neither answered yet
    upstream.hold.set()
    assert list(await asyncio.wait_for(first, 1)) == [2, 4]
    assert list(await asyncio.wait_for(second, 1)) == [6, 8]


async def test_a_cancelled_caller_leaves_the_others_alone() -> None:
    upstream = Upstream()
    upstream.hold = asyncio.Event()
    batcher = Batcher(upstream, max_items=100, max_wait=0.01)
    sent = [asyncio.ensure_future(batcher.submit(i)) for i in (1, 2, 3)]
    await asyncio.wait_for(upstream.called.wait(), 1)
    sent[1].cancel()  # cancelled while its batch is in flight
    upstream.hold.set()
    assert list(await asyncio.wait_for(asyncio.gather(sent[0], sent[2]), 1)) == [2, 6]
    assert sent[1].cancelled()


async def test_a_caller_cancelled_before_the_batch_goes_is_left_out() -> None:
    upstream = Upstream()
    batcher = Batcher(upstream, max_items=100, max_wait=0.05)
    gone = asyncio.ensure_future(batcher.submit(1))
    kept = asyncio.ensure_future(batcher.submit(2))
    await asyncio.sleep(0)
    gone.cancel()
    assert await asyncio.wait_for(kept, 1) == 4
    assert upstream.calls == [[2]]


async def test_aclose_sends_what_is_open_and_waits_for_it() -> None:
    upstream = Upstream()
    batcher = Batcher(upstream, max_items=100, max_wait=30)
    pending = [asyncio.ensure_future(batcher.submit(i)) for i in (1, 2)]
    await asyncio.sleep(0)
    await asyncio.wait_for(batcher.aclose(), 1)
    assert upstream.calls == [[1, 2]]
    assert [p.result() for p in pending] == [2, 4]
    with pytest.raises(RuntimeError):
        await batcher.submit(3)


async def test_a_flush_answering_the_wrong_count_fails_the_batch() -> None:
    async def short(items: list[int]) -> list[int | BaseException]:
        return [1]

    batcher = Batcher(short, max_items=100, max_wait=0.01)
    results = await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
