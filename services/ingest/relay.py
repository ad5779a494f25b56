"""The outbox relay: finishes what the request path left unfinished.

Runs in every ingest replica; a lease on each event record keeps two relays off the same event.
An event still `received` (crash or error before it was applied) is applied; one `applied` but
not `published` (crash, or Kafka down) is published. A message may so be published twice, which
the workers' version check makes harmless; it is never published zero times.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from libs.runtime.logging import get_logger

from .metrics import IngestMetrics
from .service import IngestService
from .store import APPLIED, RECEIVED, IngestStore

log = get_logger()


class OutboxRelay:
    def __init__(
        self,
        service: IngestService,
        store: IngestStore,
        metrics: IngestMetrics,
        *,
        after_seconds: float,
        interval_seconds: float,
    ) -> None:
        self.service, self.store, self.metrics = service, store, metrics
        self.after = timedelta(seconds=after_seconds)
        self.lease = timedelta(seconds=max(10.0, after_seconds * 2))
        self.interval = interval_seconds

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("relay_pass_failed")
            await asyncio.sleep(self.interval)

    async def run_once(self, limit: int = 500) -> int:
        """Finish up to `limit` events; return how many were finished."""
        finished = 0
        for _ in range(limit):
            doc = await self.store.claim_unfinished(RECEIVED, self.after, self.lease)
            if doc is None:
                break
            outbox = await self.service.apply(doc["_id"], json.loads(doc["raw"]))
            if outbox is not None and not await self.service.publish(
                doc["_id"], outbox, path="relay"
            ):
                break
            finished += 1
        for _ in range(limit):
            doc = await self.store.claim_unfinished(APPLIED, self.after, self.lease)
            if doc is None:
                break
            if not await self.service.publish(doc["_id"], doc["outbox"], path="relay"):
                break  # Kafka is still down; try again next pass
            finished += 1
        await self.update_gauges()
        return finished

    async def update_gauges(self) -> None:
        count, oldest = await self.store.backlog()
        self.metrics.outbox_backlog.set(count)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        self.metrics.outbox_oldest_age.set(max(age, 0.0))
