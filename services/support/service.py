"""Support's use cases: take in failures and outcomes and keep the incidents they make.

Per message the decision is saved first (compare-and-set on the incident record), then the
effects it calls for are carried out and ticked off one by one. An effect that cannot be done now
(Zendesk or Kafka down) stays pending on the record; the sweeper (`sweep_forever`) retries it,
so the consumer commits and moves on instead of stalling its partition. The effects are in
`effects.py`, replays in `replays.py`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faststream.kafka import KafkaBroker

from libs.contracts import (
    IncidentStatus,
    SyncFailure,
    SyncOutcome,
    SyncResult,
)
from libs.runtime.clock import now
from libs.runtime.logging import email_hash, get_logger
from libs.runtime.mongo import ConcurrentUpdate

from .effects import TicketEffects
from .incidents import (
    FailureFacts,
    IncidentRecord,
    Outcome,
    on_failure,
    on_success,
)
from .metrics import SupportMetrics
from .replays import Replays
from .store import (
    FAILED,
    SUPERSEDED,
    SYNCED,
    SupportStore,
    step_id,
)
from .zendesk import ZendeskClient

log = get_logger()

_MAX_CAS_TRIES = 20


def timeline_entry(result: SyncResult) -> dict[str, Any]:
    """One outcome as the console's timeline shows it; `key` makes a redelivery a no-op."""
    return {
        "key": f"{result.integration}|{result.event_id}|{result.replay_id or '-'}|"
        f"{result.outcome.value}",
        "integration": result.integration,
        "event_id": result.event_id,
        "version": result.version,
        "outcome": result.outcome.value,
        "actions": list(result.actions),
        "attempts": result.attempts,
        "error": result.error.model_dump(mode="json") if result.error else None,
        "replay_id": result.replay_id,
        "at": result.at.isoformat(),
    }


class SupportService:
    def __init__(
        self,
        store: SupportStore,
        zendesk: ZendeskClient,
        broker: KafkaBroker,
        metrics: SupportMetrics,
        *,
        console_url: str,
        integrations: list[str],
        timeline_limit: int = 300,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.integrations = integrations
        self.timeline_limit = timeline_limit
        self.effects = TicketEffects(store, zendesk, broker, metrics, console_url=console_url)
        self.replays = Replays(store, broker, metrics, integrations)

    # --- intake -------------------------------------------------------------------------------

    async def take_failure(self, failure: SyncFailure) -> Outcome:
        facts = FailureFacts.of(failure)
        cid, name = failure.customer_id, failure.integration
        synced = await self._synced_version(cid, name)
        outcome = Outcome.DUPLICATE
        record: IncidentRecord | None = None
        for _ in range(_MAX_CAS_TRIES):
            before = await self.store.load_record(cid, name)
            known = before.model_copy(update={"synced_version": max(before.synced_version, synced)})
            after, outcome = on_failure(known, facts, now())
            if outcome in (Outcome.DUPLICATE, Outcome.SUPERSEDED):
                record = before
                break
            try:
                record = await self.store.save_record(before, after)
                break
            except ConcurrentUpdate:
                continue
        else:
            raise ConcurrentUpdate(cid)
        incident_id = record.current.incident_id if record.current is not None else None
        await self.store.record_failure(
            _step(failure, facts, SUPERSEDED if outcome is Outcome.SUPERSEDED else FAILED)
            | {"incident_id": incident_id}
        )
        if outcome is Outcome.COMMENTED and record.open is not None:
            older = [e for e in record.open.failed_event_ids if e != failure.event_id]
            await self.store.set_step_status(
                [step_id(name, e) for e in older],
                SUPERSEDED,
                max_version=facts.version - 1,
                superseded_by=failure.event_id,
            )
        self.metrics.failures.labels(name, outcome.value).inc()
        log.info(
            "failure_taken",
            event_id=failure.event_id,
            customer_id=cid,
            email_hash=email_hash(failure.event.email),
            integration=name,
            action=failure.action,
            outcome=outcome.value,
            incident_id=incident_id,
        )
        await self.effects.run_effects(cid, name)
        return outcome

    async def take_result(self, result: SyncResult) -> None:
        await self.take_results([result])

    async def take_results(self, results: list[SyncResult]) -> None:
        """A batch of outcomes: every timeline in one read and one bulk write; then only the
        successes of a (customer, integration) that has an incident record go on to resolve it
        (one read tells which), so a healthy outcome costs support almost nothing."""
        await self.store.add_timeline_entries(
            [(r.customer_id, timeline_entry(r)) for r in results], self.timeline_limit
        )
        for result in results:
            if result.outcome is SyncOutcome.STALE and result.replay_id:
                # A newer state was applied meanwhile: this step needs nothing more.
                await self.store.set_step_status(
                    [step_id(result.integration, result.event_id)],
                    SUPERSEDED,
                    superseded_by="newer state",
                )
        synced = [r for r in results if r.outcome is SyncOutcome.SYNCED]
        with_record = await self.store.records_present(
            {(r.customer_id, r.integration) for r in synced}
        )
        for result in synced:
            if (result.customer_id, result.integration) in with_record:
                await self._resolve_on_success(result)

    async def _resolve_on_success(self, result: SyncResult) -> None:
        cid, name = result.customer_id, result.integration
        for _ in range(_MAX_CAS_TRIES):
            before = await self.store.load_record(cid, name)
            if before.revision == 0:
                return  # never failed: nothing to resolve (the timeline has the version)
            after, outcome = on_success(before, result.version, result.event_id, now())
            if after == before:
                break
            try:
                record = await self.store.save_record(before, after)
            except ConcurrentUpdate:
                continue
            await self._settle_steps(record, result)
            if outcome is Outcome.RESOLVED:
                self.metrics.incidents_resolved.labels(name).inc()
                log.info(
                    "incident_resolved",
                    customer_id=cid,
                    integration=name,
                    event_id=result.event_id,
                    incident_id=record.current.incident_id if record.current else None,
                    outcome="resolved",
                )
            break
        else:
            raise ConcurrentUpdate(cid)
        await self.effects.run_effects(cid, name)

    async def _settle_steps(self, record: IncidentRecord, result: SyncResult) -> None:
        """The succeeded step is synced; older failed steps of the pair need nothing more."""
        name = record.integration
        await self.store.set_step_status(
            [step_id(name, result.event_id)], SYNCED, synced_at=result.at
        )
        ids = {e for incident in record.incidents for e in incident.failed_event_ids}
        ids.discard(result.event_id)
        await self.store.set_step_status(
            [step_id(name, e) for e in sorted(ids)],
            SUPERSEDED,
            max_version=result.version,
            superseded_by=result.event_id,
        )

    async def _synced_version(self, customer_id: str, integration: str) -> int:
        versions = [
            int(e.get("version", 0))
            for e in await self.store.timeline(customer_id)
            if e.get("integration") == integration and e.get("outcome") == SyncOutcome.SYNCED
        ]
        return max(versions, default=0)

    async def sweep_once(self) -> int:
        records = await self.store.pending_records()
        for record in records:
            await self.effects.run_effects(record.customer_id, record.integration)
        self.metrics.incidents_open.set(await self.store.open_incident_count())
        return len(records)

    async def sweep_forever(self, interval: float) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception as exc:
                log.warning("sweep_failed", error=type(exc).__name__)
            await asyncio.sleep(interval)


def _step(failure: SyncFailure, facts: FailureFacts, status: str) -> dict[str, Any]:
    return {
        "_id": step_id(failure.integration, failure.event_id),
        "failure_key": facts.key,
        "customer_id": failure.customer_id,
        "integration": failure.integration,
        "event_id": failure.event_id,
        "event_type": facts.event_type,
        "version": facts.version,
        "action": failure.action,
        "attempts": failure.attempts,
        "error": failure.error.model_dump(mode="json"),
        "first_attempt_at": failure.first_attempt_at,
        "failed_at": failure.failed_at,
        "status": status,
        "event": failure.event.model_dump(mode="json"),
    }


__all__ = ["IncidentStatus", "SupportService"]
