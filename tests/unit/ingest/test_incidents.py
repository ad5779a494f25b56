"""The needs_support flag follows support's open incidents."""

from __future__ import annotations

from datetime import UTC, datetime

from libs.contracts import IncidentChanged, IncidentStatus
from services.ingest.canonical import CanonicalCustomer
from services.ingest.incidents import apply_incident


def change(incident_id: str, integration: str, status: IncidentStatus) -> IncidentChanged:
    return IncidentChanged(
        incident_id=incident_id,
        customer_id="cust_1",
        integration=integration,
        status=status,
        at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_the_flag_stays_while_any_incident_is_open() -> None:
    customer = CanonicalCustomer(_id="cust_1", email="a@example.com", version=3)
    customer = apply_incident(customer, change("inc_a", "circle", IncidentStatus.OPEN))
    assert customer.needs_support
    customer = apply_incident(customer, change("inc_b", "convertkit", IncidentStatus.OPEN))
    customer = apply_incident(customer, change("inc_a", "circle", IncidentStatus.RESOLVED))
    assert customer.needs_support
    customer = apply_incident(customer, change("inc_b", "convertkit", IncidentStatus.RESOLVED))
    assert not customer.needs_support
    assert customer.version == 3  # no new desired state for the workers


def test_a_repeated_announcement_changes_nothing() -> None:
    customer = CanonicalCustomer(_id="cust_1", email="a@example.com")
    opened = apply_incident(customer, change("inc_a", "circle", IncidentStatus.OPEN))
    assert apply_incident(opened, change("inc_a", "circle", IncidentStatus.OPEN)) == opened
    resolved = apply_incident(opened, change("inc_a", "circle", IncidentStatus.RESOLVED))
    again = apply_incident(resolved, change("inc_a", "circle", IncidentStatus.RESOLVED))
    assert again == resolved
