"""The shared worker loop: every sync worker runs its integration through this.

Per message: decode → skip if off/outside rollout, already processed or stale → sync with
retries → record (dedupe + version) → publish the outcome → commit the offset. The offset is
committed only after the effect and the records are written; a crash anywhere before that
redelivers the message, and the dedupe and version records make the redelivery harmless. An
internal failure (our database or Kafka) hands the message back instead of committing it.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime

from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import ValidationError

from libs.contracts import (
    SYNC_RESULTS,
    CustomerEvent,
    ErrorInfo,
    SyncFailure,
    SyncOutcome,
    SyncResult,
    failure_topic,
)

from .broker import key
from .dedupe import DedupeStore
from .errors import ProviderAuthError, ProviderError
from .integration import Integration, Mode, WorkerSettings, in_rollout
from .logging import email_hash, get_logger
from .offsets import commit, hand_back
from .retry import retry_delay
from .worker_metrics import WorkerMetrics

log = get_logger()

HAND_BACK_DELAY_SECONDS = 1.0


class WorkerLoop:
    def __init__(
        self,
        integration: Integration,
        settings: WorkerSettings,
        broker: KafkaBroker,
        dedupe: DedupeStore,
        metrics: WorkerMetrics,
    ) -> None:
        self.integration = integration
        self.name = integration.name
        self.settings = settings
        self.broker = broker
        self.dedupe = dedupe
        self.metrics = metrics
        self.rand = random.Random()

    # --- Kafka entrypoints --------------------------------------------------------------------

    async def on_customer_event(self, body: bytes, msg: KafkaMessage) -> None:
        await self._consume(body, msg, replay=False)

    async def on_replay(self, body: bytes, msg: KafkaMessage) -> None:
        await self._consume(body, msg, replay=True)

    async def _consume(self, body: bytes, msg: KafkaMessage, *, replay: bool) -> None:
        try:
            event = CustomerEvent.model_validate_json(body)
        except ValidationError as exc:
            # A message no version of this code can read: retrying cannot help. Skip it loudly.
            log.error("message_unreadable", integration=self.name, error=str(exc)[:300])
            self.metrics.results.labels(self.name, "unreadable").inc()
            await commit(msg)
            return
        try:
            await self.process(event, replay=replay)
        except Exception:
            # Our own store or Kafka failed: do not commit. Seek back so this consumer reads the
            # message again after a pause; the dedupe record makes the second run harmless.
            log.exception("handed_back", integration=self.name, event_id=event.event_id)
            self.metrics.handed_back.labels(self.name).inc()
            await hand_back(msg, HAND_BACK_DELAY_SECONDS)
            return
        await commit(msg)

    # --- the decision and its execution -------------------------------------------------------

    async def process(self, event: CustomerEvent, *, replay: bool = False) -> SyncResult:
        started = time.perf_counter()
        try:
            result = await self._process(event, replay=replay)
        finally:
            self.metrics.processing.labels(self.name).observe(time.perf_counter() - started)
        self.metrics.results.labels(self.name, result.outcome).inc()
        await self._publish(SYNC_RESULTS, event.customer_id, result.to_bytes())
        log.info(
            "sync_outcome",
            integration=self.name,
            event_id=event.event_id,
            customer_id=event.customer_id,
            email_hash=email_hash(event.email),
            version=event.version,
            outcome=result.outcome,
            action=",".join(result.actions),
            attempts=result.attempts,
            replay_id=event.replay_id,
        )
        return result

    async def _process(self, event: CustomerEvent, *, replay: bool) -> SyncResult:
        mode = self.settings.mode
        if mode is Mode.OFF or not in_rollout(event.customer_id, self.settings.rollout_percent):
            return self._result(event, SyncOutcome.OFF)
        if not replay and await self.dedupe.is_processed(event.event_id):
            self.metrics.dedupe_hits.labels(self.name).inc()
            return self._result(event, SyncOutcome.DUPLICATE)
        if event.version <= await self.dedupe.applied_version(event.customer_id):
            self.metrics.stale.labels(self.name).inc()
            await self.dedupe.mark_processed(event.event_id, event.customer_id, "stale")
            return self._result(event, SyncOutcome.STALE)
        if mode is Mode.SHADOW:
            actions = await self.integration.sync(event, dry_run=True)
            for action in actions:
                self.metrics.actions.labels(self.name, _kind(action), "shadow").inc()
            return self._result(event, SyncOutcome.SHADOW, actions=actions)
        return await self._sync_with_retries(event)

    async def _sync_with_retries(self, event: CustomerEvent) -> SyncResult:
        policy = self.settings.retry_policy
        first_attempt_at = datetime.now(UTC)
        attempt = 0
        while True:
            attempt += 1
            try:
                actions = await self.integration.sync(event, dry_run=False)
            except ProviderError as error:
                self._count_error(error)
                if error.retryable and attempt <= policy.retries:
                    self.metrics.retries.labels(self.name).inc()
                    delay = retry_delay(policy, attempt, error, self.rand)
                    log.info(
                        "sync_retry",
                        integration=self.name,
                        event_id=event.event_id,
                        attempt=attempt,
                        status=error.status,
                        delay=round(delay, 3),
                    )
                    await asyncio.sleep(delay)
                    continue
                return await self._fail(event, error, attempt, first_attempt_at)
            self.metrics.attempts.labels(self.name, "ok").inc()
            for action in actions:
                self.metrics.actions.labels(self.name, _kind(action), "done").inc()
            await self.dedupe.mark_processed(event.event_id, event.customer_id, "synced")
            await self.dedupe.record_version(event.customer_id, event.version)
            return self._result(event, SyncOutcome.SYNCED, actions=actions, attempts=attempt)

    def _count_error(self, error: ProviderError) -> None:
        if isinstance(error, ProviderAuthError):
            self.metrics.auth_errors.labels(self.name, str(error.status)).inc()
            self.metrics.attempts.labels(self.name, "auth").inc()
        else:
            kind = "retryable" if error.retryable else "permanent"
            self.metrics.attempts.labels(self.name, kind).inc()

    async def _fail(
        self, event: CustomerEvent, error: ProviderError, attempts: int, first_attempt_at: datetime
    ) -> SyncResult:
        info = ErrorInfo(
            status=error.status,
            code=error.code,
            message=error.message[:500],
            retryable=error.retryable,
        )
        failure = SyncFailure(
            event_id=event.event_id,
            customer_id=event.customer_id,
            integration=self.name,
            action=error.action or "sync",
            attempts=attempts,
            error=info,
            first_attempt_at=first_attempt_at,
            failed_at=datetime.now(UTC),
            event=event,
        )
        await self._publish(failure_topic(self.name), event.customer_id, failure.to_bytes())
        await self.dedupe.mark_processed(event.event_id, event.customer_id, "failed")
        self.metrics.failures.labels(self.name).inc()
        self.metrics.actions.labels(self.name, _kind(failure.action), "failed").inc()
        log.warning(
            "sync_failed",
            integration=self.name,
            event_id=event.event_id,
            customer_id=event.customer_id,
            action=failure.action,
            status=error.status,
            attempts=attempts,
            outcome="failed",
        )
        return self._result(
            event, SyncOutcome.FAILED, actions=[failure.action], attempts=attempts, error=info
        )

    def _result(
        self,
        event: CustomerEvent,
        outcome: SyncOutcome,
        *,
        actions: list[str] | None = None,
        attempts: int = 0,
        error: ErrorInfo | None = None,
    ) -> SyncResult:
        return SyncResult(
            event_id=event.event_id,
            customer_id=event.customer_id,
            version=event.version,
            integration=self.name,
            outcome=outcome,
            actions=tuple(actions or ()),
            attempts=attempts,
            error=error,
            replay_id=event.replay_id,
            at=datetime.now(UTC),
        )

    async def _publish(self, topic: str, customer_id: str, payload: bytes) -> None:
        await self.broker.publish(
            payload, topic, key=key(customer_id), headers={"content-type": "application/json"}
        )


def _kind(action: str) -> str:
    """`add_access_group:Members` → `add_access_group`: the metric label stays low-cardinality."""
    return action.split(":", 1)[0]
