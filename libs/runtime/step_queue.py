"""The events a worker holds, scheduled for a limited provider budget.

A worker used to run each Kafka message to its end before reading the next, so under a backlog a
refund waited behind every purchase ahead of it in its partition (at Kit's 2 calls a second, a
launch-day burst meant minutes of customer emails to someone who had just been refunded), and a
customer with three queued events paid for all three states. The consumers now only read: each
event is put here, and `parallel` tasks run them:

- **one customer at a time, in order**: a customer's events never run concurrently, and events
  that arrive while one runs wait for it;
- **latest state wins**: a customer's waiting events are taken together; `run` gets them all (in
  arrival order), spends calls on the newest only and records the older as superseded;
- **revocations first**: a customer whose waiting events include an access removal (`urgent`) is
  taken before every customer who waits for a grant, and its provider calls are sent at the
  pacer's urgent priority (`pacing.call_priority`); otherwise first come, first served;
- **nothing lost**: an event is settled (its Kafka offset may be committed: `offset_tracker.py`)
  only after `run` returned. `run` raising `HandBack` (stopping) leaves it to the partition's next
  owner; any other error (our store or Kafka) puts it back in front of the customer's newer events
  and it runs again after `retry_delay`. An event whose partition moved to another consumer
  still runs: the assignment reads empty for a moment during any rebalance (a Kafka outage),
  and dropping events then left them unread until a restart (the soak caught it); running one
  the new owner also runs costs a repeated idempotent call at most.

`capacity` bounds what is held: `put` waits while it is full, which stops the consumer reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from .consuming import HandBack
from .logging import get_logger
from .pacing import NORMAL, URGENT, prioritised

log = get_logger()

T = TypeVar("T")
Settle = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class _Held(Generic[T]):
    item: T
    seq: int
    urgent: bool
    settle: Settle


class StepQueue(Generic[T]):
    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[None]],
        *,
        key: Callable[[T], str],
        urgent: Callable[[T], bool],
        parallel: int,
        capacity: int,
        retry_delay: float = 1.0,
    ) -> None:
        self._run, self._key, self._urgent = run, key, urgent
        self.parallel, self.capacity, self.retry_delay = parallel, capacity, retry_delay
        self._waiting: dict[str, list[_Held[T]]] = {}
        self._running: set[str] = set()
        self._ready: list[tuple[int, int, str]] = []  # (priority, first arrival, customer)
        self._slot: dict[str, tuple[int, int]] = {}  # the customer's valid entry in `_ready`
        self._seq = itertools.count()
        self._changed = asyncio.Condition()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        #: events held (waiting or running), and of them those that revoke access
        self.held = 0
        self.held_urgent = 0

    # --- the consumers' side ------------------------------------------------------------------

    async def put(self, item: T, settle: Settle) -> None:
        """Hold `item` (waits while the queue is full). Raises `HandBack` when stopping."""
        if not self._tasks:
            self.start()
        async with self._changed:
            await self._changed.wait_for(lambda: self._stopping or self.held < self.capacity)
            if self._stopping:
                raise HandBack(self._key(item))
            urgent = self._urgent(item)
            held = _Held(item, next(self._seq), urgent, settle)
            self._waiting.setdefault(self._key(item), []).append(held)
            self.held += 1
            self.held_urgent += urgent
            self._schedule(self._key(item))
            self._changed.notify_all()

    def holding(self, key: str) -> int:
        """How many events of the customer `key` are held (waiting or running)."""
        running = 1 if key in self._running else 0
        return len(self._waiting.get(key, ())) + running

    def ahead_of(self, urgent: bool) -> int:
        """How many held events would run before a new one (for a status estimate)."""
        return self.held_urgent if urgent else self.held

    # --- the runners --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the runners (the first `put` does, if nobody did)."""
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.parallel)]

    async def idle(self) -> None:
        """Wait until nothing is held (tests, and a drained worker)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.held == 0)

    async def stop(self, grace: float) -> None:
        """Start nothing new; let runs in progress finish for up to `grace` seconds."""
        async with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=grace)
            for task in late:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*late, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: self._stopping or self._has_ready())
                if self._stopping:
                    return
                customer = self._take()
                held = self._waiting.pop(customer)
                self._running.add(customer)
            try:
                await self._run_held(customer, held)
            finally:
                async with self._changed:
                    self._running.discard(customer)
                    if customer in self._waiting:
                        self._schedule(customer)
                    self._changed.notify_all()

    async def _run_held(self, customer: str, held: list[_Held[T]]) -> None:
        mine = held
        try:
            with prioritised(URGENT if any(h.urgent for h in mine) else NORMAL):
                await self._run([h.item for h in mine])
        except HandBack:
            await self._release(len(mine), sum(h.urgent for h in mine))  # for the next owner
            return
        except Exception as exc:
            log.warning("step_requeued", customer_id=customer, error=type(exc).__name__)
            await asyncio.sleep(self.retry_delay)
            async with self._changed:  # ahead of the customer's newer events
                self._waiting[customer] = mine + self._waiting.get(customer, [])
            return
        await self._release(len(mine), sum(h.urgent for h in mine))
        for h in mine:
            await h.settle()

    async def _release(self, count: int, urgent: int) -> None:
        """`count` held events (`urgent` of them removals) are done or gone: room for more."""
        async with self._changed:
            self.held -= count
            self.held_urgent -= urgent
            self._changed.notify_all()

    # --- the order ----------------------------------------------------------------------------

    def _schedule(self, customer: str) -> None:
        """(Re)place the customer in the ready heap by its most urgent waiting event."""
        waiting = self._waiting.get(customer)
        if not waiting or customer in self._running:
            return
        slot = (URGENT if any(h.urgent for h in waiting) else NORMAL, waiting[0].seq)
        if self._slot.get(customer) != slot:
            self._slot[customer] = slot
            heapq.heappush(self._ready, (*slot, customer))

    def _has_ready(self) -> bool:
        while self._ready:
            priority, seq, customer = self._ready[0]
            valid = customer in self._waiting and customer not in self._running
            if valid and self._slot.get(customer) == (priority, seq):
                return True
            heapq.heappop(self._ready)
            if self._slot.get(customer) == (priority, seq):
                del self._slot[customer]  # so `_schedule` places it again when it is free
        return False

    def _take(self) -> str:
        _, _, customer = heapq.heappop(self._ready)
        del self._slot[customer]
        return customer
