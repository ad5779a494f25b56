"""The console's and the admin API's customer page: every service's records joined by event id
into one timeline — the webhook ingest received, the state change it made, each worker's outcome
(with attempts and errors), failed steps and their replays, and the tickets support opened and
solved."""

from __future__ import annotations

from typing import Any

from libs.runtime.http import ApiError
from services.ingest.canonical import step_of
from services.ingest.read_model import CustomerReadModel

from . import timelines
from .incidents import record_id
from .ports import Records, step_id
from .tickets import integration_name
from .views import customer_summary, incident_view, iso_text, sort_key, step_view


async def customer_page(
    customers: CustomerReadModel, records: Records, customer_id: str, integrations: list[str]
) -> dict[str, Any]:
    customer = await customers.customer(customer_id)
    if customer is None:
        raise ApiError(404, "customer_not_found", f"no customer {customer_id}")
    results = await timelines.timeline(records.timelines, customer_id)
    found_records = await records.incidents.get_many(
        record_id(customer_id, name) for name in integrations
    )
    records_found = [found_records[i] for i in sorted(found_records)]
    step_ids = sorted(
        {
            step_id(r.integration, e)
            for r in records_found
            for i in r.incidents
            for e in i.failed_event_ids
        }
    )
    found_steps = await records.steps.get_many(step_ids)
    steps = [step_view(found_steps[i]) for i in step_ids if i in found_steps]
    event_ids = [
        *customer.recent_event_ids,
        *(r["event_id"] for r in results),
        *(s["event_id"] for s in steps),
    ]
    webhooks = {w.event_id: w for w in await customers.webhook_events(event_ids)}

    events: dict[str, dict[str, Any]] = {}

    def event(event_id: str) -> dict[str, Any]:
        if event_id not in events:
            hook = webhooks.get(event_id)
            events[event_id] = {
                "event_id": event_id,
                "event_type": hook.type if hook else None,
                "provider": hook.provider if hook else None,
                "at": iso_text(hook.received_at) if hook else None,
                "items": [],
            }
        return events[event_id]

    for event_id, hook in webhooks.items():
        entry = event(event_id)
        if hook.provider == "stripe":
            entry["items"].append(
                {
                    "at": iso_text(hook.received_at),
                    "kind": "webhook",
                    "service": "ingest",
                    "outcome": "received",
                    "summary": f"Stripe webhook {hook.type} received"
                    + (f" ({hook.deliveries} deliveries)" if hook.deliveries > 1 else ""),
                }
            )
        published, outcome = hook.published, hook.outcome
        summary = f"state change: {outcome or hook.status}"
        if published is not None:
            summary = f"state → {published.lifecycle} (version {published.version})" + (
                "" if outcome in (None, "applied") else f" [{outcome}]"
            )
        entry["items"].append(
            {
                "at": iso_text(hook.applied_at or hook.received_at),
                "kind": "state",
                "service": "ingest",
                "outcome": outcome or hook.status,
                "summary": summary,
                "published": hook.status == "published",
            }
        )
    for r in results:
        error = r.get("error") or {}
        entry = event(r["event_id"])
        what = ", ".join(r.get("actions") or []) or "nothing to change"
        summary = f"{integration_name(r['integration'])}: {r['outcome']} — {what}"
        if r["outcome"] == "waiting":
            summary = (
                f"{integration_name(r['integration'])}: waiting — queued behind others under "
                "the provider's rate limit"
                + (f", expected at {r['expected_at'][:19]}" if r.get("expected_at") else "")
            )
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
    incidents = [incident_view(r, i) for r in records_found for i in r.incidents]
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
            record = next(r for r in records_found if r.integration == inc["integration"])
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
        entry["items"].sort(key=lambda item: sort_key(item.get("at")))
        if entry["at"] is None and entry["items"]:
            entry["at"] = entry["items"][0].get("at")
    timeline.sort(key=lambda e: sort_key(e["at"]))

    by_integration = {r.integration: r for r in records_found}
    integration_views = {}
    for name in integrations:
        status = customer.integrations.get(name)
        found = by_integration.get(name)
        open_incident = found.open if found is not None else None
        step = step_of(customer, name)  # ingest's rule, not a copy
        integration_views[name] = {
            "name": integration_name(name),
            "status": step.status,
            "reason": step.reason,
            "attempts": step.attempts,
            "since": iso_text(step.since),
            "expected_at": iso_text(step.expected_at),
            "version": status.version if status else None,
            "event_id": status.event_id if status else None,
            "error": status.error if status else None,
            "at": iso_text(status.at) if status else None,
            "open_incident": incident_view(found, open_incident)
            if found is not None and open_incident is not None
            else None,
        }
    return {
        "customer": {
            **customer_summary(customer),
            "version": customer.version,
            "previous_emails": list(customer.previous_emails),
            "subscription_ids": list(customer.subscription_ids),
            "payment_ids": list(customer.payment_ids),
            "products": list(customer.products),
        },
        "integrations": integration_views,
        "timeline": timeline,
        "failures": steps,
        "incidents": incidents,
    }
