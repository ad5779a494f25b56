"""One step of a sync worker: the integration's sync with retries, and the outcome it makes.

An error the provider may recover from is retried after a backoff (a 429 after the wait it asks
for, within its own budget); each failed attempt is reported as `retrying`, so the step is never
pending without a reason. Out of retries, the failure goes to the integration's failure topic
(support makes it an incident and a ticket). A worker asked to stop while a step waits between
attempts hands the message back (`HandBack`) instead of waiting.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import datetime

from faststream.kafka import KafkaBroker

from libs.contracts import CustomerEvent, ErrorInfo, SyncFailure, SyncOutcome, SyncResult

from .broker import key
from .clock import now
from .consuming import HandBack
from .errors import PermanentProviderError, ProviderAuthError, ProviderError
from .integration import Integration, WorkerSettings
from .ledger import BeforeWritesFailed, Ledger
from .logging import get_logger
from .pacing import PacingStopped
from .retry import is_rate_limit, retry_delay, should_retry
from .worker_metrics import WorkerMetrics

log = get_logger()


class StepRunner:
    def __init__(
        self,
        integration: Integration,
        settings: WorkerSettings,
        broker: KafkaBroker,
        metrics: WorkerMetrics,
        *,
        results_topic: str,
        failures_topic: str,
        wait: Callable[[float], Awaitable[bool]],
    ) -> None:
        self.integration = integration
        self.name = integration.name
        self.settings = settings
        self.broker = broker
        self.metrics = metrics
        self.results_topic = results_topic
        self.failures_topic = failures_topic
        #: sleeps the given seconds; False if the worker was asked to stop meanwhile
        self._wait = wait
        self.rand = random.Random()

    async def run(
        self, event: CustomerEvent, *, dry_run: bool, ledger: Ledger | None = None
    ) -> SyncResult:
        policy = self.settings.retry_policy
        first_attempt_at = now()
        attempt = 0
        retries = {"error": 0, "rate_limit": 0}
        limit_wait = 0.0
        while True:
            attempt += 1
            try:
                actions = await self._sync_once(event, dry_run=dry_run, ledger=ledger)
            except ProviderError as error:
                self._count_failed_attempt(error)
                reason = "rate_limit" if is_rate_limit(error) else "error"
                number = retries[reason] + 1
                delay = retry_delay(policy, number, error, self.rand) if error.retryable else 0.0
                wait_after = limit_wait + (delay if reason == "rate_limit" else 0.0)
                if should_retry(policy, error, number, wait_after):
                    retries[reason], limit_wait = number, wait_after
                    self.metrics.retries.labels(self.name, reason).inc()
                    await self._report_retrying(event, attempt, error)
                    log.info(
                        "sync_retry",
                        integration=self.name,
                        event_id=event.event_id,
                        attempt=attempt,
                        status=error.status,
                        reason=reason,
                        delay=round(delay, 3),
                    )
                    if not await self._wait(delay):
                        raise HandBack(event.event_id) from None
                    continue
                if dry_run:  # shadow: report what went wrong, open no incident
                    return self.result(
                        event, SyncOutcome.SHADOW, attempts=attempt, error=_info(error)
                    )
                return await self._fail(event, error, attempt, first_attempt_at)
            if dry_run:
                self.metrics.attempts.labels(self.name, "plan", "ok").inc()
                for action in actions:
                    self.metrics.actions.labels(self.name, _kind(action), "shadow").inc()
                return self.result(event, SyncOutcome.SHADOW, actions=actions, attempts=attempt)
            for action in actions or ["none"]:
                self.metrics.attempts.labels(self.name, _kind(action), "ok").inc()
            for action in actions:
                self.metrics.actions.labels(self.name, _kind(action), "done").inc()
            return self.result(event, SyncOutcome.SYNCED, actions=actions, attempts=attempt)

    async def _sync_once(
        self, event: CustomerEvent, *, dry_run: bool, ledger: Ledger | None
    ) -> list[str]:
        try:
            return await self.integration.sync(event, dry_run=dry_run, ledger=ledger)
        except ProviderError:
            raise
        except PacingStopped:  # stopping while a call waited for its turn: nothing was sent
            raise HandBack(event.event_id) from None
        except BeforeWritesFailed as exc:  # our store, before any write: handed back as such
            raise exc.__cause__ or exc from None
        except Exception as exc:
            # A bug, or a provider reply we cannot read: the same code on the same data gives
            # the same answer, so handing it back would block the partition forever. It fails
            # the step instead (a ticket; a replay once fixed). Integrations touch no store or
            # Kafka (the one store write, `before_writes`, is handed back above), so this is
            # never our own infrastructure failing.
            log.exception("sync_crashed", integration=self.name, event_id=event.event_id)
            raise PermanentProviderError(
                self.name, f"internal error: {type(exc).__name__}: {exc}"[:300], code="internal"
            ) from exc

    async def _report_retrying(
        self, event: CustomerEvent, attempt: int, error: ProviderError
    ) -> None:
        """Tell ingest and support the step is retrying (pending, with a reason). Best effort:
        the final outcome is what counts, so a failed report does not fail the step."""
        result = self.result(event, SyncOutcome.RETRYING, attempts=attempt, error=_info(error))
        try:
            await self.publish(self.results_topic, event.customer_id, result.to_bytes())
        except Exception as exc:
            log.warning("retrying_report_failed", integration=self.name, error=type(exc).__name__)

    def _count_failed_attempt(self, error: ProviderError) -> None:
        action = _kind(error.action) if error.action else "read"
        if isinstance(error, ProviderAuthError):
            self.metrics.auth_errors.labels(self.name, str(error.status)).inc()
            outcome = "auth"
        elif is_rate_limit(error):
            outcome = "rate_limited"
        else:
            outcome = "retryable" if error.retryable else "permanent"
        self.metrics.attempts.labels(self.name, action, outcome).inc()

    async def _fail(
        self, event: CustomerEvent, error: ProviderError, attempts: int, first_attempt_at: datetime
    ) -> SyncResult:
        info = _info(error)
        failure = SyncFailure(
            event_id=event.event_id,
            customer_id=event.customer_id,
            integration=self.name,
            action=error.action or "sync",
            attempts=attempts,
            error=info,
            first_attempt_at=first_attempt_at,
            failed_at=now(),
            event=event,
        )
        await self.publish(self.failures_topic, event.customer_id, failure.to_bytes())
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
        return self.result(
            event, SyncOutcome.FAILED, actions=[failure.action], attempts=attempts, error=info
        )

    def result(
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
            at=now(),
        )

    async def publish(self, topic: str, customer_id: str, payload: bytes) -> None:
        await self.broker.publish(
            payload, topic, key=key(customer_id), headers={"content-type": "application/json"}
        )


def _info(error: ProviderError) -> ErrorInfo:
    return ErrorInfo(
        status=error.status, code=error.code, message=error.message[:500], retryable=error.retryable
    )


def _kind(action: str) -> str:
    """`add_access_group:Members` → `add_access_group`: the metric label stays low-cardinality."""
    return action.split(":", 1)[0]
