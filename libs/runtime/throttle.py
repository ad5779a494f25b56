"""Throttling of public surfaces: at most `limit` requests per `window` seconds per key (a client
IP, a token's hash, a login name), answered with 429 and `Retry-After` beyond that.

A token bucket per key (capacity `limit`, refilled at `limit / window` per second), in memory,
per process: each replica throttles on its own, which bounds a client at `replicas * limit`,
enough to stop enumeration and brute force without a shared store on the hot path. The number
of keys kept is bounded (least recently seen go first), so a flood of distinct keys cannot grow
memory without end. A small module rather than slowapi/limits: those key by route decorators
and a storage URI; here a surface checks several keys (the IP and the token) in one place, and
tests drive a fake clock."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from .http import ApiError

#: keys remembered per throttle (each a few dozen bytes)
MAX_KEYS = 100_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class Throttle:
    def __init__(
        self,
        limit: int,
        window: float,
        *,
        name: str = "requests",
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        """`limit <= 0` turns the throttle off."""
        self.limit, self.window, self.name = limit, window, name
        self._rate = limit / window if limit > 0 else 0.0
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def wait(self, key: str, cost: float = 1.0) -> float:
        """Take `cost` from `key`'s bucket: 0.0 when allowed, else the seconds until it would
        be (nothing is taken then)."""
        if self.limit <= 0:
            return 0.0
        now = self._clock()
        bucket = self._buckets.pop(key, None) or _Bucket(float(self.limit), now)
        bucket.tokens = min(float(self.limit), bucket.tokens + (now - bucket.at) * self._rate)
        bucket.at = now
        self._buckets[key] = bucket  # most recently seen last
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self._rate

    def check(self, key: str, cost: float = 1.0) -> None:
        """Raise a 429 `ApiError` with `Retry-After` when `key` is over its limit."""
        wait = self.wait(key, cost)
        if wait > 0:
            raise ApiError(
                429,
                "rate_limited",
                f"too many {self.name}; try again in {math.ceil(wait)} s",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )


def client_ip(request: Request) -> str:
    """The caller's address as the server saw it. Behind a proxy, uvicorn's
    `--forwarded-allow-ips` (the proxy's address) makes this the client's, from
    `X-Forwarded-For`; an untrusted header is never read here, so it cannot be spoofed."""
    return request.client.host if request.client is not None else "unknown"
