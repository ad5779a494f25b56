"""Support's use cases: take in failures and outcomes, keep incidents and tickets, replay steps.

Per message the decision is saved first (compare-and-set on the incident record), then the
effects it calls for are carried out and ticked off one by one. An effect that cannot be done now
(Zendesk or Kafka down) stays pending on the record; the sweeper (`sweep_forever`) retries it,
so the consumer commits and moves on instead of stalling its partition.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from faststream.kafka import KafkaBroker

from libs.contracts import (
    SUPPORT_INCIDENTS,
    CustomerEvent,
    IncidentChanged,
    IncidentStatus,
    SyncFailure,
    SyncOutcome,
    SyncResult,
    replay_topic,
)
from libs.runtime.broker import key
from libs.runtime.clock import now
from libs.runtime.errors import ProviderAuthError, ProviderError
from libs.runtime.http import ApiError
from libs.runtime.logging import email_hash, get_logger
from libs.runtime.mongo import ConcurrentUpdate

from . import tickets
from .incidents import (
    Effect,
    FailureFacts,
    Incident,
    IncidentRecord,
    Outcome,
    on_failure,
    on_success,
    pending_effects,
    replace_incident,
)
from .metrics import SupportMetrics
from .store import (
    FAILED,
    REPLAYABLE,
    SUPERSEDED,
    SYNCED,
    SupportStore,
    step_id,
)
from .zendesk import ZendeskClient

log = get_logger()

_MAX_CAS_TRIES = 20
WINDOW_LIMIT = 1000


@dataclass(frozen=True)
class Replayed:
    integration: str
    event_id: str
    customer_id: str
    replay_id: str


#: how long to leave Zendesk alone after a 429: its Retry-After, within these bounds
ZENDESK_PAUSE_DEFAULT_SECONDS = 10.0
ZENDESK_PAUSE_MAX_SECONDS = 300.0


def zendesk_pause_seconds(error: ProviderError) -> float:
    """A 429 pauses every Zendesk call (the limit is per account, not per ticket) for the
    `Retry-After` it named; other errors pause nothing."""
    if error.status != 429:
        return 0.0
    wanted = error.retry_after if error.retry_after is not None else ZENDESK_PAUSE_DEFAULT_SECONDS
    return min(max(wanted, 0.0), ZENDESK_PAUSE_MAX_SECONDS)


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
        self.zendesk = zendesk
        self.broker = broker
        self.metrics = metrics
        self.console_url = console_url
        self.integrations = integrations
        self.timeline_limit = timeline_limit
        #: monotonic time before which Zendesk is not called (it answered 429)
        self.zendesk_paused_until = 0.0

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
        await self.run_effects(cid, name)
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
        await self.run_effects(cid, name)

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

    # --- effects ------------------------------------------------------------------------------

    async def run_effects(self, customer_id: str, integration: str) -> None:
        """Carry out what the record still calls for; whatever fails stays pending."""
        if time.monotonic() < self.zendesk_paused_until:
            return  # Zendesk asked us to wait: the sweeper carries these out afterwards
        record = await self.store.load_record(customer_id, integration)
        for incident in record.incidents:
            for effect in pending_effects(incident):
                try:
                    await self._do(effect, record, incident)
                except ProviderError as exc:
                    kind = (
                        "auth"
                        if isinstance(exc, ProviderAuthError)
                        else ("transient" if exc.retryable else "permanent")
                    )
                    self.metrics.zendesk_errors.labels(effect.value, kind).inc()
                    pause = zendesk_pause_seconds(exc)
                    if pause:
                        self.zendesk_paused_until = time.monotonic() + pause
                    log.warning(
                        "effect_failed",
                        customer_id=customer_id,
                        integration=integration,
                        incident_id=incident.incident_id,
                        action=effect.value,
                        status=exc.status,
                        error=exc.code,
                        outcome=kind,
                    )
                    if kind == "permanent":
                        await self._give_up(record, incident, effect, exc)
                    return  # the rest waits for the sweeper
                except Exception as exc:  # Kafka or our store: the sweeper tries again
                    log.warning(
                        "effect_failed",
                        customer_id=customer_id,
                        integration=integration,
                        action=effect.value,
                        error=type(exc).__name__,
                    )
                    return
                record = await self.store.load_record(customer_id, integration)
                incident = next(
                    (i for i in record.incidents if i.incident_id == incident.incident_id),
                    incident,
                )

    async def _do(self, effect: Effect, record: IncidentRecord, incident: Incident) -> None:
        cid, name = record.customer_id, record.integration
        if effect is Effect.ANNOUNCE:
            message = IncidentChanged(
                incident_id=incident.incident_id,
                customer_id=cid,
                integration=name,
                status=incident.status,
                at=now(),
            )
            await self.broker.publish(
                message.to_bytes(),
                SUPPORT_INCIDENTS,
                key=key(cid),
                headers={"content-type": "application/json"},
            )
            status = incident.status
            await self._update(record, incident.incident_id, lambda i: {"announced": status})
        elif effect is Effect.CREATE_TICKET:
            await self._create_ticket(record, incident)
        elif effect is Effect.COMMENT:
            for facts in incident.pending_comments:
                await self.zendesk.add_comment(
                    _ticket_id(incident), tickets.comment_body(facts, name)
                )
                self.metrics.ticket_comments.labels(name).inc()
                await self._update(record, incident.incident_id, _comment_posted(facts.key))
        elif effect is Effect.SOLVE_TICKET:
            await self.zendesk.solve(_ticket_id(incident), tickets.resolution_note(incident, name))
            self.metrics.tickets_solved.labels(name).inc()
            solved_at = now()
            await self._update(
                record,
                incident.incident_id,
                lambda i: {"ticket_status": "solved", "ticket_solved_at": solved_at},
            )
            log.info(
                "ticket_solved",
                customer_id=cid,
                integration=name,
                incident_id=incident.incident_id,
                ticket_id=incident.ticket_id,
            )

    async def _create_ticket(self, record: IncidentRecord, incident: Incident) -> None:
        name = record.integration
        external = tickets.external_id(incident.incident_id)
        existing = await self.zendesk.find_by_external_id(external)
        if existing is None:
            step = await self.store.get_step(name, incident.first.event_id)
            if step is None:
                raise LookupError(f"failed step {incident.first.event_id} not recorded yet")
            event = CustomerEvent.model_validate(step["event"])
            body = tickets.ticket_request(incident, event, name, self.console_url)
            existing = await self.zendesk.create_ticket(
                body, tickets.idempotency_key(incident.incident_id)
            )
            self.metrics.tickets_created.labels(name).inc()
        ticket_id = int(existing["id"])
        created_at = now()
        await self._update(
            record,
            incident.incident_id,
            lambda i: {
                "ticket_id": ticket_id,
                "ticket_status": "open",
                "ticket_created_at": i.ticket_created_at or created_at,
            },
        )
        log.info(
            "ticket_created",
            customer_id=record.customer_id,
            integration=name,
            incident_id=incident.incident_id,
            ticket_id=ticket_id,
            event_id=incident.first.event_id,
        )

    async def _give_up(
        self, record: IncidentRecord, incident: Incident, effect: Effect, exc: ProviderError
    ) -> None:
        """A permanent Zendesk error: retrying cannot help. Say so on the record, move on."""
        reason = f"{exc.code}: {tickets.redact(exc.message)}"[:300]
        if effect is Effect.CREATE_TICKET:
            await self._update(record, incident.incident_id, lambda i: {"ticket_error": reason})
        elif effect is Effect.COMMENT:
            await self._update(record, incident.incident_id, lambda i: {"pending_comments": ()})
        elif effect is Effect.SOLVE_TICKET:
            await self._update(
                record, incident.incident_id, lambda i: {"ticket_status": "solve_failed"}
            )

    async def _update(
        self,
        record: IncidentRecord,
        incident_id: str,
        change: Callable[[Incident], dict[str, Any]],
    ) -> None:
        for _ in range(_MAX_CAS_TRIES):
            before = await self.store.load_record(record.customer_id, record.integration)
            incident = next((i for i in before.incidents if i.incident_id == incident_id), None)
            if incident is None:
                return
            after = replace_incident(before, incident.model_copy(update=change(incident)))
            try:
                await self.store.save_record(before, after)
                return
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate(record.record_id)

    async def sweep_once(self) -> int:
        records = await self.store.pending_records()
        for record in records:
            await self.run_effects(record.customer_id, record.integration)
        self.metrics.incidents_open.set(await self.store.open_incident_count())
        return len(records)

    async def sweep_forever(self, interval: float) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception as exc:
                log.warning("sweep_failed", error=type(exc).__name__)
            await asyncio.sleep(interval)

    # --- replays ------------------------------------------------------------------------------

    def check_integration(self, integration: str) -> None:
        if integration not in self.integrations:
            raise ApiError(
                422,
                "unknown_integration",
                f"integration must be one of: {', '.join(self.integrations)}",
            )

    async def replay_one(self, integration: str, event_id: str) -> Replayed:
        self.check_integration(integration)
        step = await self.store.get_step(integration, event_id)
        if step is None:
            raise ApiError(
                404, "step_not_found", f"no failed {integration} step for event {event_id}"
            )
        if step["status"] not in REPLAYABLE:
            newer = f" (by {step['superseded_by']})" if step.get("superseded_by") else ""
            raise ApiError(
                409,
                "not_replayable",
                f"this step is {step['status']}{newer}; only failed steps are replayed",
            )
        replayed = await self._replay(step, "one")
        return replayed

    async def replayable_in_window(
        self, integration: str, since: datetime, until: datetime
    ) -> list[dict[str, Any]]:
        self.check_integration(integration)
        if until <= since:
            raise ApiError(422, "invalid_window", "`until` must be after `since`")
        return await self.store.list_failures(
            integration=integration,
            since=since,
            until=until,
            statuses=(FAILED,),
            limit=WINDOW_LIMIT,
        )

    async def replay_window(
        self, integration: str, since: datetime, until: datetime
    ) -> list[Replayed]:
        steps = await self.replayable_in_window(integration, since, until)
        # Oldest first, so one customer's steps reach the worker in the order they failed.
        steps.sort(key=lambda s: s["failed_at"])
        return [await self._replay(step, "window") for step in steps]

    async def _replay(self, step: dict[str, Any], scope: str) -> Replayed:
        replay_id = "rpl_" + secrets.token_hex(8)
        event = CustomerEvent.model_validate(step["event"]).model_copy(
            update={"replay_id": replay_id}
        )
        name = step["integration"]
        await self.broker.publish(
            event.to_bytes(),
            replay_topic(name),
            key=key(event.customer_id),
            headers={"content-type": "application/json", "event_id": event.event_id},
        )
        await self.store.mark_replayed(step, replay_id)
        self.metrics.replays.labels(name, scope).inc()
        log.info(
            "step_replayed",
            event_id=event.event_id,
            customer_id=event.customer_id,
            email_hash=email_hash(event.email),
            integration=name,
            replay_id=replay_id,
            scope=scope,
        )
        return Replayed(name, event.event_id, event.customer_id, replay_id)


def _comment_posted(done: str) -> Callable[[Incident], dict[str, Any]]:
    def change(incident: Incident) -> dict[str, Any]:
        return {
            "pending_comments": tuple(c for c in incident.pending_comments if c.key != done),
            "comments_posted": incident.comments_posted + 1,
        }

    return change


def _ticket_id(incident: Incident) -> int:
    assert incident.ticket_id is not None
    return incident.ticket_id


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


__all__ = ["IncidentStatus", "Replayed", "SupportService"]
