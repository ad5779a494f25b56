"""Incidents: one per (customer, integration) while it is open. Pure: no I/O, no clock.

A record per (customer, integration) holds the open incident, if any, and the last few closed
ones. The decisions below only move that record; what must then happen outside (announce the
incident, create the ticket, post comments, solve the ticket) is read off the record by
`pending_effects`, so an effect interrupted by a crash or an outage is simply still pending
on the next look, and doing it again is safe (the ticket is created with an idempotency key).

    failure ──▶ no open incident ─────────────▶ OPENED (new incident, ticket to create)
              (drift a reconcile repair did not fix opens one even at a synced version)
            ──▶ open, failure not seen before ─▶ COMMENTED (comment to post)
            ──▶ open, the same failure again ──▶ DUPLICATE (nothing)
            ──▶ its version already synced ────▶ SUPERSEDED (nothing: a newer state is in)
    success ──▶ open, version ≥ every failed ──▶ RESOLVED (ticket to solve)
            ──▶ otherwise ─────────────────────▶ NOTED (remembered as the synced version)

A success resolves only when it carries the newest state that failed: replaying an older step
while a newer one still fails leaves the customer behind, so the incident stays open.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict

from libs.contracts import IncidentStatus, SyncFailure

#: closed incidents kept on the record (the tickets list and the customer page show them)
HISTORY_LIMIT: Final = 20
#: failures remembered per incident, to recognise a redelivered one
KEYS_LIMIT: Final = 100


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class FailureFacts(_Frozen):
    """What a ticket or comment says about one failed step."""

    event_id: str
    replay_id: str | None = None
    event_type: str
    version: int
    action: str
    attempts: int
    error_status: int | None = None
    error_code: str
    error_message: str
    first_attempt_at: datetime
    failed_at: datetime
    #: found by a reconcile sweep after its repair (the version was synced, the provider
    #: drifted since): not superseded by that version
    drift: bool = False

    @property
    def key(self) -> str:
        """The same failure delivered again has the same key; a failed replay has another."""
        return f"{self.event_id}|{self.replay_id or '-'}"

    @classmethod
    def of(cls, failure: SyncFailure) -> FailureFacts:
        return cls(
            event_id=failure.event_id,
            replay_id=failure.event.replay_id,
            event_type=failure.event.source.event_type,
            version=failure.event.version,
            action=failure.action,
            attempts=failure.attempts,
            error_status=failure.error.status,
            error_code=failure.error.code,
            error_message=failure.error.message,
            first_attempt_at=failure.first_attempt_at,
            failed_at=failure.failed_at,
            drift=failure.kind == "drift",
        )


class Incident(_Frozen):
    incident_id: str
    status: IncidentStatus = IncidentStatus.OPEN
    opened_at: datetime
    #: when the trouble started: the first failed step's first attempt
    started_at: datetime
    first: FailureFacts
    last: FailureFacts
    failure_keys: tuple[str, ...] = ()
    #: event ids of the failed steps in this incident, oldest first
    failed_event_ids: tuple[str, ...] = ()
    max_failed_version: int = 0
    failures: int = 1
    ticket_id: int | None = None
    ticket_status: str | None = None  # "open" once created, "solved" once solved
    ticket_error: str | None = None  # why the ticket could not be created (permanent error)
    ticket_created_at: datetime | None = None
    ticket_solved_at: datetime | None = None
    comments_posted: int = 0
    pending_comments: tuple[FailureFacts, ...] = ()
    resolved_at: datetime | None = None
    resolved_by_event_id: str | None = None
    resolved_by_version: int | None = None
    #: the status last published on support.incidents.v1 for this incident
    announced: IncidentStatus | None = None


class IncidentRecord(_Frozen):
    """Everything support knows about one (customer, integration)."""

    customer_id: str
    integration: str
    seq: int = 0
    current: Incident | None = None
    history: tuple[Incident, ...] = ()
    #: the newest version this integration confirmed for the customer
    synced_version: int = 0
    revision: int = 0

    @property
    def record_id(self) -> str:
        return record_id(self.customer_id, self.integration)

    @property
    def open(self) -> Incident | None:
        current = self.current
        return current if current is not None and current.status is IncidentStatus.OPEN else None

    @property
    def incidents(self) -> tuple[Incident, ...]:
        return (self.current, *self.history) if self.current is not None else self.history


def record_id(customer_id: str, integration: str) -> str:
    return f"{customer_id}:{integration}"


class Outcome(StrEnum):
    OPENED = "opened"
    COMMENTED = "commented"
    DUPLICATE = "duplicate"
    SUPERSEDED = "superseded"
    RESOLVED = "resolved"
    NOTED = "noted"


def on_failure(
    record: IncidentRecord, facts: FailureFacts, now: datetime
) -> tuple[IncidentRecord, Outcome]:
    if facts.version <= record.synced_version and not facts.drift:
        return record, Outcome.SUPERSEDED
    current = record.open
    if current is not None:
        if facts.key in current.failure_keys:
            return record, Outcome.DUPLICATE
        updated = current.model_copy(
            update={
                "last": facts,
                "failure_keys": (*current.failure_keys, facts.key)[-KEYS_LIMIT:],
                "failed_event_ids": _add(current.failed_event_ids, facts.event_id),
                "max_failed_version": max(current.max_failed_version, facts.version),
                "failures": current.failures + 1,
                "pending_comments": (*current.pending_comments, facts),
            }
        )
        return record.model_copy(update={"current": updated}), Outcome.COMMENTED
    seq = record.seq + 1
    incident = Incident(
        incident_id=f"inc_{record.customer_id}_{record.integration}_{seq}",
        opened_at=now,
        started_at=facts.first_attempt_at,
        first=facts,
        last=facts,
        failure_keys=(facts.key,),
        failed_event_ids=(facts.event_id,),
        max_failed_version=facts.version,
    )
    history = record.history
    if record.current is not None:
        history = (record.current, *history)[:HISTORY_LIMIT]
    updated_record = record.model_copy(update={"seq": seq, "current": incident, "history": history})
    return updated_record, Outcome.OPENED


def on_success(
    record: IncidentRecord, version: int, event_id: str, now: datetime
) -> tuple[IncidentRecord, Outcome]:
    record = record.model_copy(update={"synced_version": max(record.synced_version, version)})
    current = record.open
    if current is None or version < current.max_failed_version:
        return record, Outcome.NOTED
    resolved = current.model_copy(
        update={
            "status": IncidentStatus.RESOLVED,
            "resolved_at": now,
            "resolved_by_event_id": event_id,
            "resolved_by_version": version,
        }
    )
    return record.model_copy(update={"current": resolved}), Outcome.RESOLVED


# --- effects --------------------------------------------------------------------------------


class Effect(StrEnum):
    ANNOUNCE = "announce"  # publish IncidentChanged
    CREATE_TICKET = "create_ticket"
    COMMENT = "comment"
    SOLVE_TICKET = "solve_ticket"


def pending_effects(incident: Incident) -> list[Effect]:
    effects = []
    if incident.announced != incident.status:
        effects.append(Effect.ANNOUNCE)
    no_ticket = incident.ticket_id is None and incident.ticket_error is None
    if incident.status is IncidentStatus.OPEN and no_ticket:
        effects.append(Effect.CREATE_TICKET)
    if incident.ticket_id is not None and incident.pending_comments:
        effects.append(Effect.COMMENT)
    if (
        incident.status is IncidentStatus.RESOLVED
        and incident.ticket_id is not None
        and incident.ticket_status != "solved"
    ):
        effects.append(Effect.SOLVE_TICKET)
    return effects


def has_pending(record: IncidentRecord) -> bool:
    return any(pending_effects(incident) for incident in record.incidents)


def replace_incident(record: IncidentRecord, incident: Incident) -> IncidentRecord:
    """The record with `incident` (matched by id) replaced."""
    if record.current is not None and record.current.incident_id == incident.incident_id:
        return record.model_copy(update={"current": incident})
    history = tuple(
        incident if i.incident_id == incident.incident_id else i for i in record.history
    )
    return record.model_copy(update={"history": history})


def _add(items: tuple[str, ...], item: str) -> tuple[str, ...]:
    return items if item in items else (*items, item)[-KEYS_LIMIT:]
