"""Checkout Session keys are forgotten once they can answer nothing: after the status route's
lifetime and Stripe's 3 days of redelivery; every other identity key stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from libs.contracts.identity import checkout_key, email_key
from services.ingest.checkout_claims import keep_for, prune_once
from services.ingest.customers import InMemoryCustomers

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


async def test_old_checkout_keys_go_and_everything_else_stays() -> None:
    clock = Clock()
    customers = InMemoryCustomers(clock=clock)
    await customers.claim({checkout_key("cs_old"): "cust_1", email_key("a@example.com"): "cust_1"})
    clock.at = T0 + timedelta(days=2)
    await customers.claim({checkout_key("cs_recent"): "cust_2"})
    keep = keep_for(3600)
    assert keep == timedelta(days=3, hours=1)

    clock.at = T0 + keep  # cs_old is exactly as old as kept: not yet
    assert await prune_once(customers, keep, clock) == 0
    clock.at = T0 + keep + timedelta(seconds=1)
    assert await prune_once(customers, keep, clock) == 1
    assert await customers.recorded(checkout_key("cs_old")) is None
    assert await customers.recorded(checkout_key("cs_recent")) is not None
    assert (await customers.find([email_key("a@example.com")])) == {
        email_key("a@example.com"): "cust_1"
    }
