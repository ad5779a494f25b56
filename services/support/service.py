"""Support's use cases: take in failures and outcomes and keep the incidents they make.

Per message the decision is saved first (the incident record's compare-and-set: the decision is
a pure change, redone if another writer got there first), then the effects it calls for are
carried out and ticked off one by one. An effect that cannot be done now (Zendesk or Kafka down)
stays pending on the record; the sweeper (`sweep_forever`) retries it, so the consumer commits
and moves on instead of stalling its partition. The effects are in `effects.py`, replays in
`replays.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from faststream.kafka import KafkaBroker

from libs.contracts import SyncFailure, SyncOutcome, SyncResult
from libs.runtime.clock import now
from libs.runtime.lifecycle import every
from libs.runtime.logging import email_hash, get_logger

from . import steps, timelines
from .effects import TicketEffects
from .incidents import (
    FailureFacts,
    IncidentRecord,
    Outcome,
    on_failure,
    on_success,
    record_id,
)
from .metrics import SupportMetrics
from .ports import FAILED, SUPERSEDED, SYNCED, Records, SweepStore, step_id
from .replays import Replays
from .zendesk import ZendeskClient

log = get_logger()


@dataclass
class Support:
    """The ports and settings support's handlers and routes work with."""

    records: Records
    effects: TicketEffects
    replays: Replays
    metrics: SupportMetrics
    #: the reconcile sweeps the workers record (read only: the console's Reconcile page)
    sweeps: SweepStore
    integrations: list[str] = field(default_factory=list)
    timeline_limit: int = 300


def build_support(
    records: Records,
    zendesk: ZendeskClient,
    broker: KafkaBroker,
    metrics: SupportMetrics,
    *,
    console_url: str,
    integrations: list[str],
    sweeps: SweepStore,
    timeline_limit: int = 300,
) -> Support:
    return Support(
        records,
        TicketEffects(records, zendesk, broker, metrics, console_url=console_url),
        Replays(records.steps, broker, metrics, integrations),
        metrics,
        sweeps,
        integrations,
        timeline_limit,
    )


@dataclass
class _Decided:
    """What the last run of a change decided (a change may run again after a lost race)."""

    outcome: Outcome = Outcome.DUPLICATE


async def take_failure(support: Support, failure: SyncFailure) -> Outcome:
    records = support.records
    facts = FailureFacts.of(failure)
    cid, name = failure.customer_id, failure.integration
    synced = await _synced_version(records, cid, name)
    at = now()
    decided = _Decided()

    def change(current: IncidentRecord | None) -> IncidentRecord | None:
        before = current or IncidentRecord(customer_id=cid, integration=name)
        known = before.model_copy(update={"synced_version": max(before.synced_version, synced)})
        after, decided.outcome = on_failure(known, facts, at)
        if decided.outcome in (Outcome.DUPLICATE, Outcome.SUPERSEDED):
            return current
        return after

    updated = await records.incidents.update(record_id(cid, name), change)
    outcome, record = decided.outcome, updated.after
    incident_id = record.current.incident_id if record and record.current else None
    status = SUPERSEDED if outcome is Outcome.SUPERSEDED else FAILED
    await steps.record_failure(
        records.steps, steps.failed_step(failure, facts, status) | {"incident_id": incident_id}
    )
    if outcome is Outcome.COMMENTED and record is not None and record.open is not None:
        older = [e for e in record.open.failed_event_ids if e != failure.event_id]
        await steps.set_status(
            records.steps,
            [step_id(name, e) for e in older],
            SUPERSEDED,
            max_version=facts.version - 1,
            superseded_by=failure.event_id,
        )
    support.metrics.failures.labels(name, outcome.value).inc()
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
    await support.effects.run_effects(cid, name)
    return outcome


async def take_results(support: Support, results: list[SyncResult]) -> None:
    """A batch of outcomes: every timeline in one read and one bulk write; then only the
    successes of a (customer, integration) that has an incident record go on to resolve it
    (one read tells which), so a healthy outcome costs support almost nothing."""
    records = support.records
    await timelines.add_entries(
        records.timelines,
        [(r.customer_id, timelines.timeline_entry(r)) for r in results],
        support.timeline_limit,
    )
    for result in results:
        if result.outcome is SyncOutcome.STALE and result.replay_id:
            # A newer state was applied meanwhile: this step needs nothing more.
            await steps.set_status(
                records.steps,
                [step_id(result.integration, result.event_id)],
                SUPERSEDED,
                superseded_by="newer state",
            )
    synced = [r for r in results if r.outcome is SyncOutcome.SYNCED]
    with_record = await records.incidents.present(
        {record_id(r.customer_id, r.integration) for r in synced}
    )
    for result in synced:
        if record_id(result.customer_id, result.integration) in with_record:
            await _resolve_on_success(support, result)


async def _resolve_on_success(support: Support, result: SyncResult) -> None:
    cid, name = result.customer_id, result.integration
    at = now()
    decided = _Decided(Outcome.NOTED)

    def change(current: IncidentRecord | None) -> IncidentRecord | None:
        if current is None:
            return None  # never failed: nothing to resolve (the timeline has the version)
        after, decided.outcome = on_success(current, result.version, result.event_id, at)
        return after

    updated = await support.records.incidents.update(record_id(cid, name), change)
    if updated.after is None:
        return
    record = updated.after
    if updated.written:
        await _settle_steps(support.records, record, result)
        if decided.outcome is Outcome.RESOLVED:
            support.metrics.incidents_resolved.labels(name).inc()
            log.info(
                "incident_resolved",
                customer_id=cid,
                integration=name,
                event_id=result.event_id,
                incident_id=record.current.incident_id if record.current else None,
                outcome="resolved",
            )
    await support.effects.run_effects(cid, name)


async def _settle_steps(records: Records, record: IncidentRecord, result: SyncResult) -> None:
    """The succeeded step is synced; older failed steps of the pair need nothing more."""
    name = record.integration
    await steps.set_status(
        records.steps, [step_id(name, result.event_id)], SYNCED, synced_at=result.at
    )
    ids = {e for incident in record.incidents for e in incident.failed_event_ids}
    ids.discard(result.event_id)
    await steps.set_status(
        records.steps,
        [step_id(name, e) for e in sorted(ids)],
        SUPERSEDED,
        max_version=result.version,
        superseded_by=result.event_id,
    )


async def _synced_version(records: Records, customer_id: str, integration: str) -> int:
    versions = [
        int(e.get("version", 0))
        for e in await timelines.timeline(records.timelines, customer_id)
        if e.get("integration") == integration and e.get("outcome") == SyncOutcome.SYNCED
    ]
    return max(versions, default=0)


async def sweep_once(support: Support) -> int:
    pending = await support.records.incidents.pending()
    for record in pending:
        await support.effects.run_effects(record.customer_id, record.integration)
    support.metrics.incidents_open.set(await support.records.incidents.open_count())
    return len(pending)


async def sweep_forever(support: Support, interval: float) -> None:
    await every(interval, lambda: sweep_once(support), failed="sweep_failed")
