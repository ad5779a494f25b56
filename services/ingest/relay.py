"""The outbox relay: finishes what the request path left unfinished.

Runs in every ingest replica; a lease on each event's marker keeps two relays off the same event.
An event still `received` (crash, error, or a full queue before it was applied) goes back to the
apply stage; one `applied` but not `published` (Kafka was down) is published. A message may so
be published twice, which the workers' version check makes harmless; never zero times.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from libs.runtime.clock import now
from libs.runtime.lifecycle import when_store_reachable
from libs.runtime.logging import get_logger

from .apply_stage import ApplyStage
from .event_log import APPLIED, RECEIVED, EventLog
from .metrics import IngestMetrics
from .outbox import OutboxPublisher

log = get_logger()


class OutboxRelay:
    def __init__(
        self,
        stage: ApplyStage,
        events: EventLog,
        publisher: OutboxPublisher,
        metrics: IngestMetrics,
        *,
        after_seconds: float,
        interval_seconds: float,
        sweep_seconds: float = 10.0,
    ) -> None:
        self.stage, self.events, self.publisher, self.metrics = stage, events, publisher, metrics
        self.after = timedelta(seconds=after_seconds)
        self.lease = timedelta(seconds=max(10.0, after_seconds * 2))
        self.interval = interval_seconds
        self.sweep = sweep_seconds

    async def run_forever(self) -> None:
        """A pass every `interval` while the stage says work is left (a failed publish or
        apply, a full queue), else one every `sweep` for what a crash left. Passes are rationed
        because finding unfinished events is a query by status, which FerretDB/SQLite answers
        with a scan of the whole event collection."""
        last = float("-inf")
        loop = asyncio.get_running_loop()
        await self._backfill()
        while True:
            if self.stage.work_left.take() or loop.time() - last >= self.sweep:
                last = loop.time()
                try:
                    await self.run_once()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self.stage.work_left.note()
                    log.exception("relay_pass_failed")
            await asyncio.sleep(self.interval)

    async def _backfill(self) -> None:
        """Events left unfinished by a version that kept no markers get theirs (once a start,
        retried until the store answers)."""

        async def backfill() -> None:
            if count := await self.events.backfill_unfinished():
                log.info("relay_backfilled", events=count)

        await when_store_reachable(backfill, "relay_backfill")

    async def run_once(self, limit: int = 1000) -> int:
        """Finish up to `limit` events; return how many were handed on or published."""
        # While the stage has a queue, whatever is `received` is most likely in it; stragglers
        # (a crash, a full queue) are looked for once it has caught up.
        if self.stage.queued:
            self.stage.work_left.note()
            await self.update_gauges()
            return 0
        events, orphans = await self.events.claim_unfinished(self.after, self.lease, limit)
        await self.events.clear_unfinished(orphans)
        finished = 0
        for doc in (d for d in events if d["status"] == RECEIVED):
            if not self.stage.submit(doc["_id"], json.loads(doc["raw"])):
                break  # the queue is full: the rest keep their markers for a later pass
            finished += 1
        applied = [(d["_id"], d["outbox"]) for d in events if d["status"] == APPLIED]
        for start in range(0, len(applied), 100):
            chunk = applied[start : start + 100]
            results = await self.publisher.publish_many(chunk, path="relay")
            await self.events.mark_published(
                [eid for (eid, _), ok in zip(chunk, results, strict=True) if ok]
            )
            finished += sum(results)
            if not all(results):
                break  # Kafka is down: the publisher noted work left, the next pass comes soon
        if len(events) + len(orphans) >= limit:
            self.stage.work_left.note()  # a full page: there is more
        await self.update_gauges()
        return finished

    async def update_gauges(self) -> None:
        count, oldest = await self.events.backlog()
        self.metrics.outbox_backlog.set(count)
        age = (now() - oldest).total_seconds() if oldest else 0.0
        self.metrics.outbox_oldest_age.set(max(age, 0.0))
