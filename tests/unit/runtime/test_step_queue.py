"""The step queue: one customer at a time and in order, a customer's held events handed over
together (latest state wins), access removals ahead of other customers' grants (and at the
pacer's urgent priority), settled only after their step, and put back after an internal error."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from libs.runtime.consuming import HandBack
from libs.runtime.pacing import NORMAL, URGENT, call_priority
from libs.runtime.step_queue import StepQueue


@dataclass(frozen=True)
class Ev:
    customer: str
    name: str
    urgent: bool = False


@dataclass
class Runs:
    """Records each run; the first `gate` runs wait until released, so events can pile up."""

    runs: list[tuple[list[str], int]] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    fail_first: int = 0
    hand_back: bool = False

    async def run(self, events: list[Ev]) -> None:
        await self.gate.wait()
        self.runs.append(([e.name for e in events], call_priority.get()))
        if self.hand_back:
            raise HandBack("stopping")
        if self.fail_first:
            self.fail_first -= 1
            raise ConnectionError("store down")

    def settle(self, name: str):  # type: ignore[no-untyped-def]
        async def settle() -> None:
            self.settled.append(name)

        return settle


def queue(runs: Runs, *, parallel: int = 1, capacity: int = 100) -> StepQueue[Ev]:
    return StepQueue(
        runs.run,
        key=lambda e: e.customer,
        urgent=lambda e: e.urgent,
        parallel=parallel,
        capacity=capacity,
        retry_delay=0.01,
    )


async def put_all(q: StepQueue[Ev], runs: Runs, *events: Ev) -> None:
    for e in events:
        await q.put(e, runs.settle(e.name))


async def test_a_customers_held_events_run_together_and_revocations_go_first() -> None:
    runs = Runs()
    q = queue(runs)
    # the only runner takes a1 and waits at the gate; the rest piles up behind it
    await put_all(q, runs, Ev("a", "a1"))
    await asyncio.sleep(0)
    await put_all(
        q,
        runs,
        Ev("b", "b1"),
        Ev("c", "c1"),
        Ev("b", "b2"),
        Ev("d", "d1-refund", urgent=True),
        Ev("c", "c2"),
    )
    runs.gate.set()
    await asyncio.wait_for(q.idle(), 2)
    assert runs.runs == [
        (["a1"], NORMAL),
        (["d1-refund"], URGENT),  # the refund overtakes the grants that waited before it
        (["b1", "b2"], NORMAL),  # one run for both: the loop spends calls on b2 only
        (["c1", "c2"], NORMAL),
    ]
    assert sorted(runs.settled) == ["a1", "b1", "b2", "c1", "c2", "d1-refund"]
    await q.stop(1)


async def test_one_customer_never_runs_twice_at_once() -> None:
    runs = Runs()
    q = queue(runs, parallel=4)
    await put_all(q, runs, Ev("a", "a1"))
    await asyncio.sleep(0)
    await put_all(q, runs, Ev("a", "a2"), Ev("a", "a3"))
    await asyncio.sleep(0.01)
    assert runs.runs == []  # a1 holds the gate; a2 and a3 wait for it, not for a free runner
    runs.gate.set()
    await asyncio.wait_for(q.idle(), 2)
    assert [names for names, _ in runs.runs] == [["a1"], ["a2", "a3"]]
    await q.stop(1)


async def test_an_internal_error_runs_the_events_again_ahead_of_newer_ones() -> None:
    runs = Runs(fail_first=1)
    q = queue(runs)
    await put_all(q, runs, Ev("a", "a1"))
    await asyncio.sleep(0)
    runs.gate.set()
    await asyncio.sleep(0)
    await put_all(q, runs, Ev("a", "a2"))
    await asyncio.wait_for(q.idle(), 2)
    assert [names for names, _ in runs.runs][-1] == ["a1", "a2"]
    assert runs.settled == ["a1", "a2"]  # nothing settled before its step succeeded
    await q.stop(1)


async def test_a_handed_back_event_is_never_settled() -> None:
    runs = Runs(hand_back=True)
    runs.gate.set()
    q = queue(runs)
    await put_all(q, runs, Ev("a", "a1"))
    await asyncio.wait_for(q.idle(), 2)
    assert runs.settled == []  # left uncommitted for the partition's next owner
    await q.stop(1)


async def test_a_full_queue_makes_the_consumer_wait() -> None:
    runs = Runs()
    q = queue(runs, capacity=2)
    await put_all(q, runs, Ev("a", "a1"), Ev("b", "b1"))
    third = asyncio.create_task(q.put(Ev("c", "c1"), runs.settle("c1")))
    await asyncio.sleep(0.01)
    assert not third.done()
    runs.gate.set()
    await asyncio.wait_for(third, 2)
    await asyncio.wait_for(q.idle(), 2)
    assert sorted(runs.settled) == ["a1", "b1", "c1"]
    await q.stop(1)


async def test_a_stopping_queue_takes_nothing_more() -> None:
    runs = Runs()
    q = queue(runs)
    await q.stop(1)
    with pytest.raises(HandBack):
        await q.put(Ev("a", "a1"), runs.settle("a1"))
