"""The shared worker loop: every sync worker runs its integration through this.

Per message: decode → skip if off/outside rollout, already processed or stale → sync with
retries (or, in shadow mode, plan with retries and call nothing; `steps.py`) → publish the
outcome → write the dedupe record → commit the offset.

Order matters, and every step is safe to repeat:

- the outcome is published *before* the dedupe record, so a crash in between re-runs the
  event (the integration finds nothing left to do) and publishes the outcome again, instead of
  reporting a mere "duplicate" and leaving ingest waiting for a "synced" that never comes;
- the applied version and the event id are one record, written at once (one read and one write
  of the store per event);
- the offset is committed only after the effect and the record are written. A crash anywhere
  before that redelivers the message, and the record makes the redelivery harmless.

An internal failure (our database or Kafka) hands the message back instead of committing it.
On shutdown (`stop`/`drain`) no new message is started, an attempt already talking to the
provider finishes, and a message waiting between retries is handed back uncommitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

from faststream.kafka import KafkaBroker

from libs.contracts import (
    SYNC_RESULTS,
    CustomerEvent,
    SyncOutcome,
    SyncResult,
    failure_topic,
)

from .consuming import CommitPolicy, HandBack
from .dedupe import Applied, DedupeRecords, as_read, lookup, record
from .integration import Integration, Mode, WorkerSettings, in_rollout
from .ledger import Ledger
from .logging import email_hash, get_logger
from .step_record import StepRecord, ledger_for
from .steps import StepRunner
from .worker_metrics import WorkerMetrics

log = get_logger()

HAND_BACK_DELAY_SECONDS = 1.0


class WorkerLoop:
    def __init__(
        self,
        integration: Integration,
        settings: WorkerSettings,
        broker: KafkaBroker,
        dedupe: DedupeRecords,
        metrics: WorkerMetrics,
        *,
        results_topic: str = SYNC_RESULTS,
        failures_topic: str | None = None,
    ) -> None:
        # the broker, the topics and the integration are the step runner's; the loop decides
        self.name, self.settings, self.metrics = integration.name, settings, metrics
        self.dedupe = dedupe
        self.steps = StepRunner(
            integration,
            settings,
            broker,
            metrics,
            results_topic=results_topic,
            failures_topic=failures_topic or failure_topic(self.name),
            wait=self._wait,
        )
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._in_flight = 0

    @property
    def integration(self) -> Integration:
        return self.steps.integration

    @integration.setter
    def integration(self, integration: Integration) -> None:  # tests swap it
        self.steps.integration = integration

    @property
    def rand(self) -> random.Random:  # the backoff's jitter; tests pin it
        return self.steps.rand

    # --- the handler's side of the one consume/commit path (consuming.py) ---------------------

    def commit_policy(self) -> CommitPolicy:
        """How the worker's routers commit: nothing starts while stopping, and a hand-back
        waits on the stop-aware clock (a stopping worker leaves the message to the next owner)."""
        return CommitPolicy(
            kind=f"{self.name}_event",
            count=self._count,
            may_start=lambda: not self._stopping.is_set(),
            pause=self._wait,
            hand_back_delay=HAND_BACK_DELAY_SECONDS,
        )

    def _count(self, outcome: str) -> None:
        if outcome == "unreadable":  # a message no version of this code can read: skipped
            self.metrics.results.labels(self.name, "unreadable").inc()

    async def run_held(self, events: list[CustomerEvent]) -> None:
        """One customer's held events (`step_queue.py`), in arrival order: latest state wins.
        The newest version runs; the older ones are recorded as superseded, no call spent."""
        newest = max(events, key=lambda e: e.version)
        again = [e for e in events if e.event_id == newest.event_id and e is not newest]
        for event in events:
            if event.event_id != newest.event_id:
                await self.handle(event, superseded=True)
        await self.handle(newest)
        for event in again:  # a redelivery of the newest: answered as the duplicate it is
            await self.handle(event)

    async def handle(
        self, event: CustomerEvent, *, replay: bool = False, superseded: bool = False
    ) -> None:
        """One decoded event. Returns once its effect and records are written (the router then
        commits it); raises `HandBack` when stopping mid-retry, or what our store or Kafka
        raised (the router hands it back: the dedupe record makes the second run harmless)."""
        self._in_flight += 1
        self._idle.clear()
        try:
            await self.process(event, replay=replay, superseded=superseded)
        except HandBack:
            log.info("handed_back", integration=self.name, event_id=event.event_id)
            self.metrics.handed_back.labels(self.name, "shutdown").inc()
            raise
        except Exception as exc:
            log.warning(
                "internal_error",
                integration=self.name,
                event_id=event.event_id,
                error=type(exc).__name__,
            )
            self.metrics.handed_back.labels(self.name, "internal_error").inc()
            raise
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    # --- shutdown -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Start no new message; wake messages waiting between retries so they hand back."""
        self._stopping.set()

    async def drain(self, grace: float) -> bool:
        """`stop`, then wait up to `grace` s for in-flight messages; False if some remain."""
        self.stop()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._idle.wait()
        return self._idle.is_set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def _wait(self, seconds: float) -> bool:
        """Sleep `seconds`; False (early) if the worker is asked to stop meanwhile."""
        if self._stopping.is_set():
            return False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        return not self._stopping.is_set()

    # --- the decision and its execution -------------------------------------------------------

    async def process(
        self, event: CustomerEvent, *, replay: bool = False, superseded: bool = False
    ) -> SyncResult:
        started = time.perf_counter()
        try:
            seen = await lookup(self.dedupe, event.customer_id)
            if seen.unsettled:
                log.info("ledger_unsettled", integration=self.name, event_id=event.event_id)
            ledger = ledger_for(seen, replay=replay, repair=event.repair)
            step = StepRecord(self.dedupe, event.customer_id, seen)
            ledger.before_writes = step.unsettle
            result = await self._decide(event, seen, ledger, replay=replay, superseded=superseded)
            await self.steps.publish(self.steps.results_topic, event.customer_id, result.to_bytes())
            await self._record(event, result, step.seen, ledger)
        finally:
            self.metrics.processing.labels(self.name).observe(time.perf_counter() - started)
        self.metrics.results.labels(self.name, result.outcome.value).inc()
        log.info(
            "sync_outcome",
            integration=self.name,
            event_id=event.event_id,
            customer_id=event.customer_id,
            email_hash=email_hash(event.email),
            version=event.version,
            outcome=result.outcome.value,
            action=",".join(result.actions),
            attempts=result.attempts,
            replay_id=event.replay_id,
        )
        return result

    def _decide_early(
        self, event: CustomerEvent, seen: Applied, *, replay: bool
    ) -> SyncResult | None:
        """Off, a duplicate or stale: decided without the provider; None otherwise."""
        mode = self.settings.mode
        if mode is Mode.OFF or not in_rollout(event.customer_id, self.settings.rollout_percent):
            return self.steps.result(event, SyncOutcome.OFF)
        if not replay and seen.outcome_of(event.event_id) is not None:
            self.metrics.dedupe_hits.labels(self.name).inc()
            return self.steps.result(event, SyncOutcome.DUPLICATE)
        # a reconcile repair runs at the version it repairs; anything else must be newer
        if event.version < seen.version or (event.version == seen.version and not event.repair):
            self.metrics.stale.labels(self.name).inc()
            return self.steps.result(event, SyncOutcome.STALE)
        return None

    async def _decide(
        self,
        event: CustomerEvent,
        seen: Applied,
        ledger: Ledger,
        *,
        replay: bool,
        superseded: bool = False,
    ) -> SyncResult:
        if (early := self._decide_early(event, seen, replay=replay)) is not None:
            return early
        if superseded:  # a newer event of the customer is held: it costs the calls
            self.metrics.superseded.labels(self.name).inc()
            return self.steps.result(event, SyncOutcome.STALE, actions=["superseded"])
        mode, applied_key = self.settings.mode, seen.desired_key
        key = self._desired_key(event)
        unchanged = key is not None and key == applied_key and not seen.unsettled
        if mode is Mode.ON and not replay and unchanged:
            # What this version asks of the provider is exactly what the last synced version
            # established: nothing to call. (A replay always calls: an operator asked for it.)
            self.metrics.unchanged.labels(self.name).inc()
            return self.steps.result(event, SyncOutcome.SYNCED, actions=["unchanged"])
        return await self.steps.run(event, dry_run=mode is Mode.SHADOW, ledger=ledger)

    def _desired_key(self, event: CustomerEvent) -> str | None:
        key_of = getattr(self.integration, "desired_key", None)
        return str(key_of(event)) if key_of is not None else None

    async def _record(
        self, event: CustomerEvent, result: SyncResult, seen: Applied, ledger: Ledger
    ) -> None:
        """The dedupe record and the ledger, written after the outcome is out and before the
        commit. A failed step records what its confirmed writes established too."""
        outcome = result.outcome
        if outcome not in (SyncOutcome.SYNCED, SyncOutcome.STALE, SyncOutcome.FAILED):
            return  # off, shadow, duplicate: nothing applied, nothing to remember
        synced = outcome is SyncOutcome.SYNCED
        wrote = outcome is not SyncOutcome.STALE and ledger.state != seen.ledger
        change = record(
            event.event_id,
            outcome.value,
            version=event.version if synced else None,
            desired_key=self._desired_key(event) if synced else None,
            forget_desired=outcome is SyncOutcome.FAILED,
            ledger=ledger.state if wrote else None,
            # a failed step stays unsettled: its last write's answer may never have come
            settles=synced,
        )
        # from `seen`: one write, no second read (unless a concurrent replay wrote meanwhile)
        await self.dedupe.update(event.customer_id, change, as_read(event.customer_id, seen))
