"""The outbox relay: finishes what the request path left unfinished.

Runs in every ingest replica; a lease on each event record keeps two relays off the same event.
An event still `received` (crash, error, or a full queue before it was applied) goes back to the
apply stage; one `applied` but not `published` (Kafka was down) is published. A message may so
be published twice, which the workers' version check makes harmless; never zero times.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from libs.runtime.logging import get_logger

from .apply_stage import ApplyStage
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
        stage: ApplyStage,
        *,
        after_seconds: float,
        interval_seconds: float,
        sweep_seconds: float = 10.0,
    ) -> None:
        self.service, self.store, self.metrics, self.stage = service, store, metrics, stage
        self.after = timedelta(seconds=after_seconds)
        self.lease = timedelta(seconds=max(10.0, after_seconds * 2))
        self.interval = interval_seconds
        self.sweep = sweep_seconds

    async def run_forever(self) -> None:
        """A pass every `interval` while something is known to be left over (a failed publish or
        apply, a full queue), else one every `sweep` for what a crash left. Passes are rationed
        because finding unfinished events is a query by status, which FerretDB/SQLite answers
        with a scan of the whole event collection."""
        last = float("-inf")
        loop = asyncio.get_running_loop()
        while True:
            if self.service.unfinished_hint or loop.time() - last >= self.sweep:
                self.service.unfinished_hint = False
                last = loop.time()
                try:
                    await self.run_once()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self.service.unfinished_hint = True
                    log.exception("relay_pass_failed")
            await asyncio.sleep(self.interval)

    async def run_once(self, limit: int = 500) -> int:
        """Finish up to `limit` events; return how many were finished."""
        finished = 0
        # While the stage has a queue, whatever is `received` is most likely in it; stragglers
        # (a crash, a full queue) are looked for once it has caught up.
        for _ in range(0 if self.stage.queued else limit):
            doc = await self.store.claim_unfinished(
                RECEIVED, self.after, self.lease, skip=self.stage.in_flight
            )
            if doc is None:
                break
            if not self.stage.submit(doc["_id"], json.loads(doc["raw"])):
                self.service.unfinished_hint = True
                break
            finished += 1
        for _ in range(limit):
            doc = await self.store.claim_unfinished(APPLIED, self.after, self.lease)
            if doc is None:
                break
            if not await self.service.publish(doc["_id"], doc["outbox"], path="relay"):
                break  # Kafka is still down; `publish` set the hint, so the next pass comes soon
            finished += 1
        await self.update_gauges()
        return finished

    async def update_gauges(self) -> None:
        count, oldest = await self.store.backlog()
        self.metrics.outbox_backlog.set(count)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        self.metrics.outbox_oldest_age.set(max(age, 0.0))
