"""What the console and the admin API show: searches, failed steps, incidents and tickets
(the customer page, which joins them all, is `customer_page.py`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.ingest.canonical import CanonicalCustomer
from services.ingest.read_model import CustomerReadModel

from .incidents import Incident, IncidentRecord
from .ports import REPLAYABLE, FailedSteps, IncidentRecords
from .tickets import integration_name


def iso_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.isoformat()
    return str(value)


def sort_key(value: str | None) -> str:
    return value or "9999"


def customer_summary(customer: CanonicalCustomer) -> dict[str, Any]:
    return {
        "customer_id": customer.customer_id,
        "email": customer.email,
        "name": customer.name,
        "lifecycle": customer.lifecycle.value,
        "needs_support": customer.needs_support,
        "stripe_customer_id": customer.stripe_customer_id,
    }


async def find_customer_ids(
    customers: CustomerReadModel, failed_steps: FailedSteps, q: str
) -> list[str]:
    """Ingest's lookups, then support's own: an event id that only a failed step knows
    (an event ingest no longer holds, say)."""
    found = await customers.find_customer_ids(q)
    q = q.strip()
    if not found and "@" not in q:
        step = await failed_steps.of_event(q)
        if step is not None:
            found.append(str(step["customer_id"]))
    return found


async def search(
    customers: CustomerReadModel, failed_steps: FailedSteps, q: str
) -> list[dict[str, Any]]:
    found = []
    for customer_id in await find_customer_ids(customers, failed_steps, q):
        customer = await customers.customer(customer_id)
        if customer is not None:
            found.append(customer_summary(customer))
    return found


def step_view(doc: dict[str, Any]) -> dict[str, Any]:
    error = doc.get("error") or {}
    return {
        "integration": doc["integration"],
        "integration_name": integration_name(doc["integration"]),
        "event_id": doc["event_id"],
        "event_type": doc.get("event_type"),
        "customer_id": doc["customer_id"],
        "email": (doc.get("event") or {}).get("email"),
        "version": doc.get("version"),
        "action": doc.get("action"),
        "attempts": doc.get("attempts"),
        "error_status": error.get("status"),
        "error_code": error.get("code"),
        "error_message": error.get("message"),
        "first_attempt_at": iso_text(doc.get("first_attempt_at")),
        "failed_at": iso_text(doc.get("failed_at")),
        "status": doc.get("status"),
        "replayable": doc.get("status") in REPLAYABLE,
        "replays": doc.get("replays", 0),
        "replay_id": doc.get("replay_id"),
        "replayed_at": iso_text(doc.get("replayed_at")),
        "superseded_by": doc.get("superseded_by"),
        "incident_id": doc.get("incident_id"),
    }


def incident_view(record: IncidentRecord, incident: Incident) -> dict[str, Any]:
    return {
        "incident_id": incident.incident_id,
        "customer_id": record.customer_id,
        "integration": record.integration,
        "status": incident.status.value,
        "started_at": iso_text(incident.started_at),
        "opened_at": iso_text(incident.opened_at),
        "resolved_at": iso_text(incident.resolved_at),
        "failures": incident.failures,
        "first_event_id": incident.first.event_id,
        "last_error": f"{incident.last.error_code}: {incident.last.error_message}",
        "ticket_id": incident.ticket_id,
        "ticket_status": incident.ticket_status,
        "ticket_error": incident.ticket_error,
        "ticket_created_at": iso_text(incident.ticket_created_at),
        "ticket_solved_at": iso_text(incident.ticket_solved_at),
        "comments_posted": incident.comments_posted,
    }


async def tickets(incidents: IncidentRecords) -> list[dict[str, Any]]:
    found = [
        incident_view(record, incident)
        for record in await incidents.with_tickets()
        for incident in record.incidents
        if incident.ticket_id is not None
    ]
    found.sort(key=lambda t: sort_key(t["ticket_created_at"]), reverse=True)
    return found


async def failures(
    failed_steps: FailedSteps,
    integration: str | None,
    since: datetime | None,
    until: datetime | None,
    status: str | None,
) -> list[dict[str, Any]]:
    docs = await failed_steps.listed(
        integration=integration,
        since=since,
        until=until,
        statuses=(status,) if status else None,
    )
    return [step_view(doc) for doc in docs]
