"""Pacing: at most `limit` provider calls per rolling `window` seconds, per worker process.

A provider's published limit is per credential (Kit: 120 per 60 s per API key), and every replica
of a worker uses the same credential, so each takes its share: `limit // replicas`. The window is
rolling, like the providers' (and the sandbox's): a call goes out when fewer than the share were
sent in the last `window` seconds, otherwise it waits for the oldest to leave the window. The share
is also spread over the window (at most a tenth of it per tenth of the window): sent all at once,
a launch-day burst spent Kit's whole minute in seconds and a refund then waited the rest of the
minute for a slot, however urgent; spread, it waits a few seconds at most. A wait is
a plain `asyncio` wait, so the worker's other lanes, its metrics and its health checks carry on.
`stop()` wakes every waiter with `PacingStopped` (the step hands its message back, uncommitted); a
call that needs no wait still goes, so an attempt in flight can finish.

Calls wait in a queue ordered by priority, then arrival: under a tight budget (launch day) a
revocation, access someone must lose, goes ahead of other customers' grants instead of behind
them. Only the head of the queue takes a slot; an `URGENT` call overtakes the waiting ones (never
one already sent), and within a priority the order is FIFO, so none starves. The priority is a
context variable (`call_priority`, set for a whole step with `prioritised(...)`) so it need not be
plumbed through every provider client down to `ProviderHttp`, which calls `acquire()` bare.

A small module of its own rather than `aiolimiter`: that one is a leaky bucket on the event loop's
clock (not a rolling window, no fake clock for tests), has no priorities and no notion of a
stopping worker.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import contextvars
import itertools
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

#: priorities: lower goes sooner
URGENT = 0
NORMAL = 1
#: a reconcile sweep's pages: behind every step
BACKGROUND = 2

#: the priority of the provider calls made in this context (a step sets it: `prioritised`)
call_priority: contextvars.ContextVar[int] = contextvars.ContextVar("call_priority", default=NORMAL)


@contextlib.contextmanager
def prioritised(priority: int) -> Iterator[None]:
    """Provider calls made inside the block wait at `priority`."""
    token = call_priority.set(priority)
    try:
        yield
    finally:
        call_priority.reset(token)


class PacingStopped(Exception):
    """The worker is stopping: the call was not sent."""


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    wake: asyncio.Event = field(default_factory=asyncio.Event, compare=False)


#: how finely a window's share is spread: a burst may use 1/SPREAD of it, and a burst lasts
#: at most MAX_BURST_SECONDS (Circle's 5-minute window in tenths held a revocation up to 30 s)
SPREAD = 10
MAX_BURST_SECONDS = 5.0
#: the window is kept this much longer than the provider's (a fraction, and at least seconds)
MARGIN = 0.02
MIN_MARGIN = 0.5


class Pacer:
    def __init__(
        self,
        limit: int,
        window: float,
        *,
        replicas: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[bool]] | None = None,
        margin: float | None = None,
        spread: int | None = None,
    ) -> None:
        """`limit <= 0` turns pacing off. `clock` and `sleep` (seconds -> False if stopped)
        are for tests; the default sleep wakes early on `stop()`. `margin` (seconds added to
        the window) and `spread` (1: no spreading) default to the module's rules."""
        self.share = max(1, limit // max(1, replicas)) if limit > 0 else 0
        self.window = window
        #: a call reaches the provider a moment after it leaves here, and not always the same
        #: moment: without a margin, a call sent exactly one window after another was counted
        #: inside the provider's window about half the time (111 429s at Kit in a 300-purchase
        #: burst). 2 % of the window (at least half a second) costs 2 % of the rate.
        self.margin = max(MIN_MARGIN, window * MARGIN) if margin is None else margin
        #: the burst allowed: a tenth of the share in a tenth of the window, or less so that it
        #: lasts at most MAX_BURST_SECONDS (the same average rate)
        if spread is None:
            spread = max(SPREAD, math.ceil(window / MAX_BURST_SECONDS))
        self._burst = max(1, self.share // max(1, spread))
        self._burst_window = (
            (window + self.margin) * self._burst / self.share if self.share else 0.0
        )
        self._clock = clock
        self._sleep = sleep or self._stop_aware_sleep
        self._sent: deque[float] = deque()
        #: calls sent since start (a status estimate's calls per event comes from it)
        self.sent_total = 0
        self._queue: list[_Waiter] = []  # sorted: the head takes the next slot
        self._arrivals = itertools.count()
        self._stopping = asyncio.Event()

    @property
    def rate(self) -> float:
        """Calls per second this process may send (0: unlimited)."""
        return self.share / (self.window + self.margin) if self.share else 0.0

    @property
    def waiting(self) -> int:
        """Calls waiting for their turn (a gauge-worthy number, and what tests look at)."""
        return len(self._queue)

    def stop(self) -> None:
        self._stopping.set()
        for waiter in self._queue:
            waiter.wake.set()

    async def acquire(self, priority: int | None = None) -> float:
        """Wait for a turn to send one call (at `priority`, else `call_priority`'s); returns the
        seconds waited."""
        if not self.share:
            return 0.0
        started = self._clock()
        me = _Waiter(call_priority.get() if priority is None else priority, next(self._arrivals))
        head = self._queue[0] if self._queue else None
        bisect.insort(self._queue, me)
        if head is not None and self._queue[0] is me:
            head.wake.set()  # overtaken: it stops napping, so this call gets the next slot
        try:
            while True:
                me.wake.clear()
                if self._queue[0] is me:
                    # a stopping worker still sends a call that needs no wait (an attempt in
                    # flight finishes), but one that would wait is handed back instead
                    if (delay := self._delay()) <= 0:
                        break
                    if self._stopping.is_set() or not await self._nap(delay, me.wake):
                        raise PacingStopped
                elif self._stopping.is_set():
                    raise PacingStopped
                else:
                    await me.wake.wait()
            self._sent.append(self._clock())
            self.sent_total += 1
        finally:  # sent, stopped or cancelled: the next in line is the head now
            was_head = self._queue[0] is me
            self._queue.remove(me)
            if was_head and self._queue:
                self._queue[0].wake.set()
        return self._clock() - started

    def _delay(self) -> float:
        now = self._clock()
        window = self.window + self.margin
        while self._sent and self._sent[0] <= now - window:
            self._sent.popleft()
        delay = 0.0
        if len(self._sent) >= self.share:
            delay = self._sent[0] + window - now
        # ... and at most a burst's share per burst window, so a burst never spends the whole
        # window at once: an urgent call waits a few seconds at most, not the window
        if len(self._sent) >= self._burst:
            delay = max(delay, self._sent[-self._burst] + self._burst_window - now)
        return delay

    async def _nap(self, seconds: float, wake: asyncio.Event) -> bool:
        """Sleep `seconds` unless woken first; False if the worker is stopping."""
        sleeping = asyncio.ensure_future(self._sleep(seconds))
        woken = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait((sleeping, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            woken.cancel()
        return sleeping.result() if sleeping.done() and not sleeping.cancelled() else True

    async def _stop_aware_sleep(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        return not self._stopping.is_set()
