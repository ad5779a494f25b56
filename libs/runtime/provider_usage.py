"""The month's provider calls, against a monthly quota (Circle's Business plan: 5,000 Admin API
requests a month, 4xx and 429 included, 5xx not).

Calls are counted in memory and added to the store every few seconds (and on shutdown) with one
`$inc` per month touched: never a store write per call. The store holds one small document per
integration per calendar month (UTC), `<integration>:<YYYY-MM>` in `provider_usage`, so the count
survives restarts and every replica adds to the same one. After each flush the total is read back
for `switchboard_provider_quota_used_ratio` (what is not flushed yet is added to it).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import Gauge
from pymongo.asynchronous.database import AsyncDatabase

from .clock import now
from .logging import get_logger

log = get_logger()

COLLECTION = "provider_usage"
#: how often the month's calls are added to the store (and the gauge read back)
FLUSH_SECONDS = 5.0


def month_of(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


class UsageStore(Protocol):
    async def add(self, integration: str, month: str, calls: int) -> None: ...

    async def used(self, integration: str, month: str) -> int: ...


class MongoUsage:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db[COLLECTION]

    async def add(self, integration: str, month: str, calls: int) -> None:
        await self.collection.update_one(
            {"_id": f"{integration}:{month}"},
            {
                "$inc": {"calls": calls},
                "$set": {"integration": integration, "month": month, "at": now()},
            },
            upsert=True,
        )

    async def used(self, integration: str, month: str) -> int:
        document = await self.collection.find_one({"_id": f"{integration}:{month}"})
        return int(document.get("calls", 0)) if document else 0


class InMemoryUsage:
    """The store's fake, for tests and for a worker run without a database."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.writes = 0

    async def add(self, integration: str, month: str, calls: int) -> None:
        self.writes += 1
        self.calls[(integration, month)] += calls

    async def used(self, integration: str, month: str) -> int:
        return self.calls[(integration, month)]


class MonthlyUsage:
    """One integration's calls this month: counted in memory, flushed to `store`."""

    def __init__(
        self,
        integration: str,
        store: UsageStore,
        quota: int,
        gauge: Gauge | None = None,
        *,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self.integration = integration
        self.store = store
        self.quota = quota
        self.gauge = gauge
        self._clock = clock
        self._pending: Counter[str] = Counter()
        #: this month's total as last read from the store
        self.stored = 0
        self._stored_month = month_of(clock())

    def count(self, calls: int = 1) -> None:
        """One call that the provider counts; no I/O."""
        self._pending[month_of(self._clock())] += calls
        self._update_gauge()

    @property
    def used(self) -> int:
        """This month's calls: the store's total plus what this process has not flushed."""
        month = month_of(self._clock())
        stored = self.stored if month == self._stored_month else 0
        return stored + self._pending[month]

    async def flush(self) -> None:
        """Add what was counted to the store, then read this month's total back."""
        pending, self._pending = self._pending, Counter()
        try:
            for month, calls in sorted(pending.items()):
                await self.store.add(self.integration, month, calls)
                del pending[month]
            month = month_of(self._clock())
            self.stored, self._stored_month = await self.store.used(self.integration, month), month
        finally:
            self._pending.update(pending)  # what did not reach the store waits for the next flush
            self._update_gauge()

    async def run(self, every: float = FLUSH_SECONDS) -> None:
        """Flush every `every` seconds for the worker's life (a store outage only delays it)."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.flush()
            except Exception as exc:
                log.warning("usage_flush_failed", integration=self.integration, error=repr(exc))

    async def close(self) -> None:
        """On shutdown: the last flush, best effort."""
        try:
            await self.flush()
        except Exception as exc:
            log.warning("usage_flush_failed", integration=self.integration, error=repr(exc))

    def _update_gauge(self) -> None:
        if self.gauge is not None and self.quota > 0:
            self.gauge.labels(self.integration).set(self.used / self.quota)
