"""Pacing: at most `limit` provider calls per rolling `window` seconds, per worker process.

A provider's published limit is per credential (Kit: 120 per 60 s per API key), and every replica
of a worker uses the same credential, so each takes its share: `limit // replicas`. The window is
rolling, like the providers' (and the sandbox's): a call goes out when fewer than the share were
sent in the last `window` seconds, otherwise it waits for the oldest to leave the window. Calls
wait in order (FIFO), so none starves; a wait is a plain `asyncio` wait, so the worker's other
lanes, its metrics and its health checks carry on. `stop()` wakes every waiter with
`PacingStopped` (the step hands its message back, uncommitted); a call that needs no wait still
goes, so an attempt in flight can finish.

A small module of its own rather than `aiolimiter`: that one is a leaky bucket on the event loop's
clock (not a rolling window, no fake clock for tests) and has no notion of a stopping worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable


class PacingStopped(Exception):
    """The worker is stopping: the call was not sent."""


class Pacer:
    def __init__(
        self,
        limit: int,
        window: float,
        *,
        replicas: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[bool]] | None = None,
    ) -> None:
        """`limit <= 0` turns pacing off. `clock` and `sleep` (seconds -> False if stopped)
        are for tests; the default sleep wakes early on `stop()`."""
        self.share = max(1, limit // max(1, replicas)) if limit > 0 else 0
        self.window = window
        self._clock = clock
        self._sleep = sleep or self._stop_aware_sleep
        self._sent: deque[float] = deque()
        self._turn = asyncio.Lock()
        self._stopping = asyncio.Event()
        #: calls waiting for their turn (a gauge-worthy number, and what tests look at)
        self.waiting = 0

    @property
    def rate(self) -> float:
        """Calls per second this process may send (0: unlimited)."""
        return self.share / self.window if self.share else 0.0

    def stop(self) -> None:
        self._stopping.set()

    async def acquire(self) -> float:
        """Wait for a turn to send one call; returns the seconds waited."""
        if not self.share:
            return 0.0
        started = self._clock()
        self.waiting += 1
        try:
            async with self._turn:
                # a stopping worker still sends a call that needs no wait (an attempt in flight
                # finishes), but one that would wait is handed back instead
                while (delay := self._delay()) > 0:
                    if self._stopping.is_set() or not await self._sleep(delay):
                        raise PacingStopped
                self._sent.append(self._clock())
        finally:
            self.waiting -= 1
        return self._clock() - started

    def _delay(self) -> float:
        now = self._clock()
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        if len(self._sent) < self.share:
            return 0.0
        return self._sent[0] + self.window - now

    async def _stop_aware_sleep(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        return not self._stopping.is_set()
