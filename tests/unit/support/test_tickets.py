"""Ticket bodies: everything a person needs, nothing secret, the same every time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libs.contracts import CustomerEvent, Lifecycle, ProviderIds, Source
from services.support import tickets
from services.support.incidents import FailureFacts, IncidentRecord, on_failure

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def event() -> CustomerEvent:
    return CustomerEvent(
        event_id="evt_abc",
        customer_id="cust_42",
        version=3,
        email="jane@example.com",
        lifecycle=Lifecycle.PAID,
        provider_ids=ProviderIds(
            stripe_customer_id="cus_J1",
            stripe_subscription_ids=("sub_J1",),
            stripe_payment_ids=("pi_J1", "ch_J1"),
        ),
        source=Source(event_id="evt_abc", event_type="invoice.paid", occurred_at=T0),
    )


def incident(message: str = "Service Unavailable"):  # type: ignore[no-untyped-def]
    facts = FailureFacts(
        event_id="evt_abc",
        event_type="invoice.paid",
        version=3,
        action="add_access_group:Members",
        attempts=4,
        error_status=503,
        error_code="http_503",
        error_message=message,
        first_attempt_at=T0,
        failed_at=T0,
    )
    record, _ = on_failure(IncidentRecord(customer_id="cust_42", integration="circle"), facts, T0)
    assert record.current is not None
    return record.current


def test_the_ticket_carries_every_fact_a_person_needs() -> None:
    request = tickets.ticket_request(incident(), event(), "circle", "https://ops.example.com")
    ticket = request["ticket"]
    body = ticket["comment"]["body"]
    for fact in (
        "jane@example.com",
        "cus_J1",
        "sub_J1",
        "pi_J1",
        "evt_abc",
        "invoice.paid",
        "Circle",
        "add_access_group:Members",
        "Attempts: 4",
        "HTTP 503 — Service Unavailable",
        "2026-03-04 05:06:07 UTC",
        "https://ops.example.com/customers/cust_42",
    ):
        assert fact in body, fact
    assert ticket["external_id"] == "switchboard:inc_cust_42_circle_1"
    assert ticket["comment"]["public"] is False
    assert "requester" not in ticket  # the bot: no email to the customer about our failure
    assert "jane@example.com" in ticket["subject"]


def test_the_same_incident_renders_the_same_request() -> None:
    first = tickets.ticket_request(incident(), event(), "circle", "https://ops")
    assert first == tickets.ticket_request(incident(), event(), "circle", "https://ops")
    assert tickets.idempotency_key("inc_1") == tickets.idempotency_key("inc_1")


@pytest.mark.parametrize(
    "secret",
    [
        "Bearer abc.def-ghi",
        "sk_live_51HxyzSECRET",
        "whsec_topsecret123",
        "token=local-circle-token",
        "api_key: kit_0123456789",
        "Basic Ym90QHN3aXRjaGJvYXJkLmxvY2FsL3Rva2VuOnNlY3JldA==",
    ],
)
def test_secrets_in_a_provider_message_never_reach_the_ticket(secret: str) -> None:
    request = tickets.ticket_request(
        incident(f"rejected: {secret} was refused"), event(), "circle", "https://ops"
    )
    body = request["ticket"]["comment"]["body"]
    assert secret not in body
    assert "[redacted]" in body


def test_comment_and_resolution_note() -> None:
    current = incident()
    assert "Attempts: 4" in tickets.comment_body(current.first, "circle")
    resolved = current.model_copy(
        update={"resolved_at": T0, "resolved_by_event_id": "evt_abc", "resolved_by_version": 3}
    )
    note = tickets.resolution_note(resolved, "circle")
    assert "Resolved" in note
    assert "evt_abc" in note
