"""What a Zendesk ticket about an incident says. Pure: the same incident always renders the same
body, so a ticket creation repeated with the same Idempotency-Key sends the same request.

A ticket carries what a person needs and nothing secret: no token, key or signing secret ever
reaches it, and provider error messages are scrubbed of anything that looks like one.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final

from libs.contracts import CustomerEvent

from .incidents import FailureFacts, Incident

INTEGRATION_NAMES: Final = {"circle": "Circle", "convertkit": "Kit", "crm": "HubSpot"}

_SECRETS: Final = re.compile(
    r"(?i)(bearer\s+[\w.~+/=-]+|basic\s+[\w+/=]{8,}|\b(?:sk|rk|pk)_(?:live|test)_\w+"
    r"|\bwhsec_\w+|\b(?:pat|api[_-]?key|token|secret|password)\s*[=:]\s*\S+)"
)


def redact(text: str) -> str:
    """Replace anything that looks like a credential with `[redacted]`."""
    return _SECRETS.sub("[redacted]", text)


def integration_name(integration: str) -> str:
    return INTEGRATION_NAMES.get(integration, integration)


def external_id(incident_id: str) -> str:
    """Links the ticket to the incident; looked up before creating, so none is made twice."""
    return f"switchboard:{incident_id}"


def idempotency_key(incident_id: str) -> str:
    return f"switchboard-ticket-{incident_id}"


def console_link(console_url: str, customer_id: str) -> str:
    return f"{console_url}/customers/{customer_id}"


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _error(facts: FailureFacts) -> str:
    status = f"HTTP {facts.error_status}" if facts.error_status else facts.error_code
    return f"{status} — {redact(facts.error_message)}"


def subject(incident: Incident, event: CustomerEvent, integration: str) -> str:
    return f"[Switchboard] {integration_name(integration)} sync failing for {event.email}"


def ticket_body(
    incident: Incident, event: CustomerEvent, integration: str, console_url: str
) -> str:
    first = incident.first
    ids = event.provider_ids
    lines = [
        f"Switchboard could not bring {integration_name(integration)} in line with this "
        "customer's state after retrying. Until it does, what the customer has there may be "
        "wrong (e.g. community access missing, or not yet removed).",
        "",
        f"Customer email: {event.email}",
        f"Customer id: {event.customer_id}",
        f"Lifecycle: {event.lifecycle.value}",
        f"Stripe customer: {ids.stripe_customer_id or '—'}",
        f"Stripe subscriptions: {', '.join(ids.stripe_subscription_ids) or '—'}",
        f"Stripe payments: {', '.join(ids.stripe_payment_ids) or '—'}",
        "",
        f"Event: {first.event_id} ({first.event_type}, state version {first.version})",
        f"Integration: {integration_name(integration)} ({integration})",
        f"Failed action: {first.action}",
        f"Attempts: {first.attempts}",
        f"Last error: {_error(first)}",
        f"Trouble started: {_when(incident.started_at)}",
        "",
        f"Customer in the ops console: {console_link(console_url, event.customer_id)}",
        "There you can see every step of every event and replay the failed one once the "
        "cause is fixed. This ticket is solved automatically when the step succeeds.",
        "",
        f"Incident: {incident.incident_id}",
    ]
    return "\n".join(lines)


def ticket_request(
    incident: Incident, event: CustomerEvent, integration: str, console_url: str
) -> dict[str, Any]:
    """The body of `POST /api/v2/tickets`. An internal ticket: the requester is the bot account
    (so Zendesk's triggers do not email the customer about an internal failure) and the
    comment is private."""
    return {
        "ticket": {
            "subject": subject(incident, event, integration),
            "comment": {
                "body": ticket_body(incident, event, integration, console_url),
                "public": False,
            },
            "tags": ["switchboard", "sync_failure", f"integration_{integration}"],
            "external_id": external_id(incident.incident_id),
            "priority": "high" if integration == "circle" else "normal",
            "type": "problem",
        }
    }


def comment_body(facts: FailureFacts, integration: str) -> str:
    what = "A replay" if facts.replay_id else "Another step"
    return "\n".join(
        [
            f"{what} failed at {integration_name(integration)} for this customer.",
            f"Event: {facts.event_id} ({facts.event_type}, state version {facts.version})",
            f"Failed action: {facts.action}",
            f"Attempts: {facts.attempts}",
            f"Last error: {_error(facts)}",
            f"Failed at: {_when(facts.failed_at)}",
        ]
    )


def resolution_note(incident: Incident, integration: str) -> str:
    when = _when(incident.resolved_at) if incident.resolved_at else "just now"
    return (
        f"Resolved: {integration_name(integration)} confirmed this customer's state "
        f"(event {incident.resolved_by_event_id}, state version {incident.resolved_by_version}) "
        f"at {when}. Nothing left to do; solved by Switchboard."
    )
