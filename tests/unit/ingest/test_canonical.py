"""How one Stripe change moves the canonical customer: the time of a signal that decides the
lifecycle without moving it, and the addresses an email change leaves behind."""

from __future__ import annotations

from libs.contracts import CustomerEvent, Lifecycle, Signal
from services.ingest.canonical import (
    PREVIOUS_EMAILS_LIMIT,
    CanonicalCustomer,
    apply_change,
    customer_event,
    stripe_source,
)
from services.ingest.normalize import StripeChange


def customer(**fields: object) -> CanonicalCustomer:
    return CanonicalCustomer.model_validate({"_id": "c1", "email": "jane@example.com", **fields})


def change(signal: Signal, at: int, **fields: object) -> StripeChange:
    return StripeChange(
        event_id=f"evt_{signal.value}_{at}",
        event_type="test.event",
        occurred_at=at,
        signal=signal,
        **fields,  # type: ignore[arg-type]
    )


def test_a_refund_of_a_lead_then_its_older_purchase_ends_canceled() -> None:
    applied = apply_change(customer(), change(Signal.REFUNDED, 200))
    assert not applied.changed  # nothing to take away yet
    assert not applied.stale
    assert applied.customer.lifecycle is Lifecycle.LEAD
    assert applied.customer.lifecycle_at == 200
    assert applied.customer.version == 0

    late = apply_change(applied.customer, change(Signal.PAYMENT_SUCCEEDED, 100))
    assert late.stale  # out of order, and still applied in its place
    assert late.changed
    assert late.outcome == "applied"
    assert late.customer.lifecycle is Lifecycle.CANCELED
    assert late.customer.version == 1
    assert late.customer.version_at is not None

    newer = apply_change(late.customer, change(Signal.PAYMENT_SUCCEEDED, 300))
    assert newer.changed
    assert (newer.customer.lifecycle, newer.customer.lifecycle_at) == (Lifecycle.PAID, 300)
    assert newer.customer.version == 2


def test_the_history_survives_the_store_round_trip() -> None:
    paid = apply_change(customer(), change(Signal.PAYMENT_SUCCEEDED, 100)).customer
    stored = CanonicalCustomer.model_validate(paid.model_dump(mode="json", by_alias=True))
    assert stored.state == paid.state
    late = apply_change(stored, change(Signal.REFUNDED, 50))
    assert late.customer.lifecycle is Lifecycle.PAID  # the refund was before the purchase


def test_an_email_change_remembers_the_old_address() -> None:
    paid = customer(lifecycle=Lifecycle.PAID, lifecycle_at=100, version=1)
    applied = apply_change(paid, change(Signal.NONE, 200, email="new@example.com"))
    assert applied.changed
    after = applied.customer
    assert (after.email, after.previous_emails) == ("new@example.com", ("jane@example.com",))
    assert after.version == 2

    event = customer_event(after, stripe_source(change(Signal.NONE, 200)))
    assert event.email == "new@example.com"
    assert event.previous_emails == ("jane@example.com",)
    assert CustomerEvent.model_validate_json(event.to_bytes()) == event


def test_previous_addresses_are_most_recent_first_few_and_never_the_current_one() -> None:
    state = customer()
    for i, address in enumerate(["b@example.com", "c@example.com", "d@example.com"], start=1):
        state = apply_change(state, change(Signal.NONE, i, email=address)).customer
    assert state.previous_emails == ("c@example.com", "b@example.com", "jane@example.com")

    state = apply_change(state, change(Signal.NONE, 10, email="e@example.com")).customer
    assert len(state.previous_emails) == PREVIOUS_EMAILS_LIMIT
    assert state.previous_emails[0] == "d@example.com"

    # Back to an earlier address (in another case): it is current again, not previous.
    back = apply_change(state, change(Signal.NONE, 11, email="C@Example.com")).customer
    assert back.email == "C@Example.com"
    assert back.previous_emails == ("e@example.com", "d@example.com", "b@example.com")


def test_a_first_address_is_no_email_change_to_remember() -> None:
    applied = apply_change(customer(email=""), change(Signal.NONE, 5, email="jane@example.com"))
    assert applied.customer.email == "jane@example.com"
    assert applied.customer.previous_emails == ()


def test_a_change_of_case_only_is_no_email_change() -> None:
    applied = apply_change(customer(), change(Signal.NONE, 5, email="JANE@example.com"))
    assert not applied.changed
    assert applied.customer.previous_emails == ()


def test_a_stale_email_change_is_not_applied() -> None:
    paid = customer(lifecycle=Lifecycle.PAID, lifecycle_at=100, version=1)
    applied = apply_change(paid, change(Signal.NONE, 50, email="old@example.com"))
    assert applied.stale
    assert applied.customer.email == "jane@example.com"
    assert applied.customer.previous_emails == ()


def test_an_old_record_without_previous_emails_still_loads() -> None:
    assert CanonicalCustomer.model_validate({"_id": "c1", "email": "a@b.c"}).previous_emails == ()
