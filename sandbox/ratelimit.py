"""Rolling-window rate limits, one window per key (a credential or a client IP).

A rolling log rather than fixed buckets, because Kit and HubSpot describe their limits as rolling
windows, and a fixed bucket would let a burst of twice the limit through at a bucket edge.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from sandbox.settings import RateLimit


class RateLimiter:
    def __init__(self, rate: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> float | None:
        """Record one request for `key`; return None if allowed, else seconds until a slot frees.

        A refused request is not recorded: it did not use a slot.
        """
        if self._rate.limit <= 0:
            return None
        now = self._clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self._rate.window_s:
            hits.popleft()
        if len(hits) >= self._rate.limit:
            return max(0.0, hits[0] + self._rate.window_s - now)
        hits.append(now)
        return None

    def reset(self) -> None:
        self._hits.clear()
