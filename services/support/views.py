"""What the console and the admin API show: searches, the customer page, failures and tickets.

The customer page joins every service's records by event id into one timeline: the webhook
ingest received, the state change it made, each worker's outcome (with attempts and errors),
failed steps and their replays, and the tickets support opened and solved.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from libs.runtime.http import ApiError
from services.ingest.canonical import CanonicalCustomer, step_of

from .incidents import Incident, IncidentRecord
from .store import REPLAYABLE, SupportStore, step_id
from .tickets import integration_name


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.isoformat()
    return str(value)


def _sort_key(value: str | None) -> str:
    return value or "9999"


def customer_summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "customer_id": doc["_id"],
        "email": doc.get("email"),
        "name": doc.get("name"),
        "lifecycle": doc.get("lifecycle"),
        "needs_support": bool(doc.get("needs_support")),
        "stripe_customer_id": doc.get("stripe_customer_id"),
    }


async def search(store: SupportStore, q: str) -> list[dict[str, Any]]:
    ids = await store.find_customer_ids(q)
    found = []
    for customer_id in ids:
        doc = await store.customer(customer_id)
        if doc is not None:
            found.append(customer_summary(doc))
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
        "first_attempt_at": _iso(doc.get("first_attempt_at")),
        "failed_at": _iso(doc.get("failed_at")),
        "status": doc.get("status"),
        "replayable": doc.get("status") in REPLAYABLE,
        "replays": doc.get("replays", 0),
        "replay_id": doc.get("replay_id"),
        "replayed_at": _iso(doc.get("replayed_at")),
        "superseded_by": doc.get("superseded_by"),
        "incident_id": doc.get("incident_id"),
    }


def incident_view(record: IncidentRecord, incident: Incident) -> dict[str, Any]:
    return {
        "incident_id": incident.incident_id,
        "customer_id": record.customer_id,
        "integration": record.integration,
        "status": incident.status.value,
        "started_at": _iso(incident.started_at),
        "opened_at": _iso(incident.opened_at),
        "resolved_at": _iso(incident.resolved_at),
        "failures": incident.failures,
        "first_event_id": incident.first.event_id,
        "last_error": f"{incident.last.error_code}: {incident.last.error_message}",
        "ticket_id": incident.ticket_id,
        "ticket_status": incident.ticket_status,
        "ticket_error": incident.ticket_error,
        "ticket_created_at": _iso(incident.ticket_created_at),
        "ticket_solved_at": _iso(incident.ticket_solved_at),
        "comments_posted": incident.comments_posted,
    }


async def tickets(store: SupportStore) -> list[dict[str, Any]]:
    found = [
        incident_view(record, incident)
        for record in await store.records_with_tickets()
        for incident in record.incidents
        if incident.ticket_id is not None
    ]
    found.sort(key=lambda t: _sort_key(t["ticket_created_at"]), reverse=True)
    return found


async def failures(
    store: SupportStore,
    integration: str | None,
    since: datetime | None,
    until: datetime | None,
    status: str | None,
) -> list[dict[str, Any]]:
    docs = await store.list_failures(
        integration=integration,
        since=since,
        until=until,
        statuses=(status,) if status else None,
    )
    return [step_view(doc) for doc in docs]


def _outbox(doc: dict[str, Any]) -> dict[str, Any]:
    try:
        return dict(json.loads(doc.get("outbox") or "{}"))
    except ValueError:
        return {}


async def customer_page(
    store: SupportStore, customer_id: str, integrations: list[str]
) -> dict[str, Any]:
    doc = await store.customer(customer_id)
    if doc is None:
        raise ApiError(404, "customer_not_found", f"no customer {customer_id}")
    results = await store.timeline(customer_id)
    records = await store.records_of(customer_id, integrations)
    step_ids = sorted(
        {
            step_id(r.integration, e)
            for r in records
            for i in r.incidents
            for e in i.failed_event_ids
        }
    )
    steps = [step_view(s) for s in await store.steps(step_ids)]
    event_ids = [
        *doc.get("recent_event_ids", []),
        *(r["event_id"] for r in results),
        *(s["event_id"] for s in steps),
    ]
    webhooks = {w["_id"]: w for w in await store.webhook_events(event_ids)}

    events: dict[str, dict[str, Any]] = {}

    def event(event_id: str) -> dict[str, Any]:
        if event_id not in events:
            hook = webhooks.get(event_id, {})
            events[event_id] = {
                "event_id": event_id,
                "event_type": hook.get("type"),
                "provider": hook.get("provider"),
                "at": _iso(hook.get("received_at")),
                "items": [],
            }
        return events[event_id]

    for event_id, hook in webhooks.items():
        entry = event(event_id)
        if hook.get("provider") == "stripe":
            entry["items"].append(
                {
                    "at": _iso(hook.get("received_at")),
                    "kind": "webhook",
                    "service": "ingest",
                    "outcome": "received",
                    "summary": f"Stripe webhook {hook.get('type')} received"
                    + (
                        f" ({hook['deliveries']} deliveries)"
                        if hook.get("deliveries", 1) > 1
                        else ""
                    ),
                }
            )
        outbox = _outbox(hook)
        outcome = hook.get("outcome")
        summary = f"state change: {outcome or hook.get('status')}"
        if outbox:
            summary = f"state → {outbox.get('lifecycle')} (version {outbox.get('version')})" + (
                "" if outcome in (None, "applied") else f" [{outcome}]"
            )
        entry["items"].append(
            {
                "at": _iso(hook.get("applied_at") or hook.get("received_at")),
                "kind": "state",
                "service": "ingest",
                "outcome": outcome or hook.get("status"),
                "summary": summary,
                "published": hook.get("status") == "published",
            }
        )
    for r in results:
        error = r.get("error") or {}
        entry = event(r["event_id"])
        what = ", ".join(r.get("actions") or []) or "nothing to change"
        summary = f"{integration_name(r['integration'])}: {r['outcome']} — {what}"
        if r.get("replay_id"):
            summary += f" (replay {r['replay_id']})"
        entry["items"].append(
            {
                "at": r.get("at"),
                "kind": "sync",
                "service": f"{r['integration']}_sync",
                "integration": r["integration"],
                "outcome": r["outcome"],
                "summary": summary,
                "attempts": r.get("attempts"),
                "error": (
                    f"{error.get('status') or error.get('code')}: {error.get('message')}"
                    if error
                    else None
                ),
                "replay_id": r.get("replay_id"),
            }
        )
    for s in steps:
        entry = event(s["event_id"])
        entry["items"].append(
            {
                "at": s["failed_at"],
                "kind": "failure",
                "service": "support",
                "integration": s["integration"],
                "outcome": s["status"],
                "summary": f"{s['integration_name']} step {s['action']} failed after "
                f"{s['attempts']} attempts — now {s['status']}",
                "attempts": s["attempts"],
                "error": f"{s['error_status'] or s['error_code']}: {s['error_message']}",
                "replayable": s["replayable"],
                "step": s,
            }
        )
    incidents = [incident_view(r, i) for r in records for i in r.incidents]
    for inc in incidents:
        if inc["ticket_id"] is not None:
            event(inc["first_event_id"])["items"].append(
                {
                    "at": inc["ticket_created_at"],
                    "kind": "ticket",
                    "service": "support",
                    "integration": inc["integration"],
                    "outcome": "ticket opened",
                    "summary": f"Zendesk ticket #{inc['ticket_id']} opened for "
                    f"{integration_name(inc['integration'])} ({inc['failures']} failure(s))",
                }
            )
        if inc["ticket_solved_at"] is not None:
            record = next(r for r in records if r.integration == inc["integration"])
            resolver = next(
                (
                    i.resolved_by_event_id
                    for i in record.incidents
                    if i.incident_id == inc["incident_id"]
                ),
                None,
            )
            event(resolver or inc["first_event_id"])["items"].append(
                {
                    "at": inc["ticket_solved_at"],
                    "kind": "ticket",
                    "service": "support",
                    "integration": inc["integration"],
                    "outcome": "ticket solved",
                    "summary": f"Zendesk ticket #{inc['ticket_id']} solved: incident resolved",
                }
            )
    timeline = list(events.values())
    for entry in timeline:
        entry["items"].sort(key=lambda item: _sort_key(item.get("at")))
        if entry["at"] is None and entry["items"]:
            entry["at"] = entry["items"][0].get("at")
    timeline.sort(key=lambda e: _sort_key(e["at"]))

    known = doc.get("integrations") or {}
    by_integration = {r.integration: r for r in records}
    integration_views = {}
    canonical = CanonicalCustomer.model_validate(doc)  # once, for every integration's step
    for name in integrations:
        status = known.get(name) or {}
        found = by_integration.get(name)
        open_incident = found.open if found is not None else None
        step = step_of(canonical, name)  # ingest's rule, not a copy
        integration_views[name] = {
            "name": integration_name(name),
            "status": step.status,
            "reason": step.reason,
            "attempts": step.attempts,
            "since": _iso(step.since),
            "version": status.get("version"),
            "event_id": status.get("event_id"),
            "error": status.get("error"),
            "at": _iso(status.get("at")),
            "open_incident": incident_view(found, open_incident)
            if found is not None and open_incident is not None
            else None,
        }
    return {
        "customer": {
            **customer_summary(doc),
            "version": doc.get("version"),
            "previous_emails": doc.get("previous_emails", []),
            "subscription_ids": doc.get("subscription_ids", []),
            "payment_ids": doc.get("payment_ids", []),
            "products": doc.get("products", []),
        },
        "integrations": integration_views,
        "timeline": timeline,
        "failures": steps,
        "incidents": incidents,
    }
