"""What the soak sends and what each customer must end up as. Pure: no I/O, no clock.

Every customer buys (checkout.session.completed + invoice.paid); a share then has a story:
a renewal, a failed renewal that is later paid, a failed renewal left unpaid (past_due), a
refund, a cancel, a dispute, or a refund/cancel that Stripe delivers *before* the checkout
(out of order). `created` always follows the true order of the story; only the delivery order is
shuffled. Some deliveries are repeated (a duplicate, sometimes sent concurrently with the first).

The expected final state is computed here from the events in `created` order, with rules of its
own, not with Switchboard's state machine: what is being tested must not grade itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any, Final

from sandbox.stripe import events as se

DAY: Final = 24 * 3600

#: story -> share of customers (the rest only buy)
DEFAULT_SHARES: Final[dict[str, float]] = {
    "renewal": 0.12,
    "failed_then_renewal": 0.08,
    "past_due": 0.05,
    "refund": 0.10,
    "cancel": 0.10,
    "dispute": 0.05,
    "refund_first": 0.05,  # the refund is delivered before the checkout
    "cancel_first": 0.05,  # the cancel is delivered before the checkout
}
#: stories whose events ingest can only resolve by asking the Stripe API (no email on a
#: subscription event, no customer on a dispute): their objects must be in the sandbox's store
NEEDS_STRIPE_OBJECTS: Final = frozenset({"cancel", "cancel_first", "dispute"})

#: each follow-up's `created`, after the purchase
_AFTER: Final = {
    "renewal": 30 * DAY,
    "payment_failed": 30 * DAY,
    "renewal_after_failure": 33 * DAY,
    "refund": 2 * DAY,
    "cancel": 20 * DAY,
    "dispute": 10 * DAY,
}
_STORY_EVENTS: Final[dict[str, tuple[str, ...]]] = {
    "purchase": (),
    "renewal": ("renewal",),
    "failed_then_renewal": ("payment_failed", "renewal_after_failure"),
    "past_due": ("payment_failed",),
    "refund": ("refund",),
    "cancel": ("cancel",),
    "dispute": ("dispute",),
    "refund_first": ("refund",),
    "cancel_first": ("cancel",),
}


@dataclass(frozen=True)
class Customer:
    index: int
    email: str
    story: str
    customer_id: str
    subscription_id: str
    invoice_id: str
    charge_id: str
    #: `created` of the purchase; every other event of the customer is later
    purchased_at: int

    def with_stripe_ids(self, subscription_id: str, invoice_id: str, charge_id: str) -> Customer:
        """The ids the sandbox's Stripe store gave this customer's subscription, invoice and
        charge, so the events name objects ingest can read back."""
        return replace(
            self, subscription_id=subscription_id, invoice_id=invoice_id, charge_id=charge_id
        )


@dataclass(frozen=True)
class EventSpec:
    event_id: str
    customer: int  # Customer.index
    kind: str  # checkout / invoice_paid / renewal / payment_failed / refund / cancel / dispute
    created: int


@dataclass(frozen=True)
class Delivery:
    event_id: str
    #: where in the stream it is sent: 0 = first, 1 = last (the sender sorts by it)
    position: float
    duplicate: bool = False
    #: sent at the same moment as the first delivery of the same event
    concurrent: bool = False


@dataclass(frozen=True)
class Expected:
    lifecycle: str  # active / past_due / canceled (lead only if no payment ever came)
    #: the event whose effect the final state is (the last one that decided the lifecycle)
    decided_by: str = ""
    decided_kind: str = ""

    @property
    def access(self) -> bool:
        return self.lifecycle in ("paid", "active", "past_due")

    @property
    def churned(self) -> bool:
        return self.lifecycle == "canceled"


@dataclass(frozen=True)
class Plan:
    customers: list[Customer]
    events: dict[str, EventSpec]
    deliveries: list[Delivery]  # in sending order

    def events_of(self, customer: int) -> list[EventSpec]:
        return [e for e in self.events.values() if e.customer == customer]


def assign_stories(n: int, shares: dict[str, float], rng: random.Random) -> list[str]:
    stories: list[str] = []
    for story, share in shares.items():
        stories += [story] * round(n * share)
    stories = stories[:n] + ["purchase"] * max(0, n - len(stories))
    rng.shuffle(stories)
    return stories


def make_customers(
    n: int,
    run_id: str,
    base_time: int,
    *,
    seed: int = 1,
    shares: dict[str, float] | None = None,
) -> list[Customer]:
    rng = random.Random(seed)
    stories = assign_stories(n, DEFAULT_SHARES if shares is None else shares, rng)
    return [
        Customer(
            index=i,
            email=f"soak.{run_id}.{i}@example.com",
            story=stories[i],
            customer_id=f"cus_soak{run_id}{i:06d}",
            subscription_id=f"sub_soak{run_id}{i:06d}",
            invoice_id=f"in_soak{run_id}{i:06d}",
            charge_id=f"ch_soak{run_id}{i:06d}",
            purchased_at=base_time + i * 60,
        )
        for i in range(n)
    ]


def story_events(customer: Customer) -> list[EventSpec]:
    """The customer's events in true (`created`) order."""
    at = customer.purchased_at
    prefix = f"evt_soak_{customer.customer_id[8:]}"
    specs = [
        EventSpec(f"{prefix}_checkout", customer.index, "checkout", at),
        EventSpec(f"{prefix}_invoice", customer.index, "invoice_paid", at + 1),
    ]
    for step in _STORY_EVENTS[customer.story]:
        kind = "renewal" if step == "renewal_after_failure" else step
        specs.append(EventSpec(f"{prefix}_{step}", customer.index, kind, at + _AFTER[step]))
    return specs


def make_plan(
    customers: list[Customer],
    *,
    seed: int = 1,
    duplicate_share: float = 0.06,
    concurrent_share: float = 0.5,
) -> Plan:
    """Every event once (plus duplicates), placed in the stream: purchases spread over the first
    85 %, follow-ups a little later, out-of-order refunds/cancels just before their checkout."""
    rng = random.Random(seed + 7)
    n = max(len(customers), 1)
    events: dict[str, EventSpec] = {}
    deliveries: list[Delivery] = []
    for customer in customers:
        start = 0.85 * customer.index / n
        for spec in story_events(customer):
            events[spec.event_id] = spec
            if spec.kind == "checkout":
                position = start
            elif spec.kind == "invoice_paid":
                position = start + rng.uniform(0.0, 0.002)
            elif customer.story.endswith("_first"):
                position = max(0.0, start - rng.uniform(0.0005, 0.005))
            else:
                position = start + rng.uniform(0.01, 0.14)
            deliveries.append(Delivery(spec.event_id, position))
            if rng.random() < duplicate_share:
                if rng.random() < concurrent_share:
                    deliveries.append(Delivery(spec.event_id, position, True, True))
                else:
                    later = min(0.999, position + rng.uniform(0.005, 0.1))
                    deliveries.append(Delivery(spec.event_id, later, True))
    deliveries.sort(key=lambda d: (d.position, d.duplicate))
    return Plan(customers, events, deliveries)


def expected_state(events: list[EventSpec]) -> Expected:
    """The customer's final lifecycle, from the events in true order: a payment grants access,
    a failed renewal keeps it (past_due), a refund, cancel or dispute of a payer ends it."""
    lifecycle, decided = "lead", None
    for spec in sorted(events, key=lambda e: (e.created, e.event_id)):
        before = lifecycle
        if spec.kind in ("checkout", "invoice_paid", "renewal"):
            lifecycle = "active"
        elif spec.kind == "payment_failed" and lifecycle != "lead":
            lifecycle = "past_due"
        elif spec.kind in ("refund", "cancel", "dispute") and lifecycle != "lead":
            lifecycle = "canceled"
        if lifecycle != before or (decided is None and lifecycle != "lead"):
            decided = spec
    if decided is None:
        return Expected(lifecycle)
    return Expected(lifecycle, decided.event_id, decided.kind)


def expectations(plan: Plan) -> dict[str, Expected]:
    """Expected final state by lower-cased email."""
    by_customer: dict[int, list[EventSpec]] = {}
    for spec in plan.events.values():
        by_customer.setdefault(spec.customer, []).append(spec)
    return {c.email.lower(): expected_state(by_customer.get(c.index, [])) for c in plan.customers}


def event_payload(spec: EventSpec, customer: Customer) -> dict[str, Any]:
    """The Stripe event, built with the sandbox's Stripe event builders."""
    c, at, eid = customer, spec.created, spec.event_id
    cus, sub = c.customer_id, c.subscription_id
    if spec.kind == "checkout":
        return se.checkout_session_completed(
            event_id=eid,
            customer_id=cus,
            subscription_id=sub,
            email=c.email,
            created=at,
            invoice_id=c.invoice_id,
        )
    if spec.kind in ("invoice_paid", "renewal"):
        first = spec.kind == "invoice_paid"
        return se.invoice_paid(
            event_id=eid,
            invoice_id=c.invoice_id if first else f"in_{eid[4:]}",
            email=c.email,
            created=at,
            billing_reason="subscription_create" if first else "subscription_cycle",
            customer_id=cus,
            subscription_id=sub,
        )
    if spec.kind == "payment_failed":
        return se.invoice_payment_failed(
            event_id=eid,
            invoice_id=f"in_{eid[4:]}",
            customer_id=cus,
            subscription_id=sub,
            email=c.email,
            created=at,
        )
    if spec.kind == "refund":
        return se.charge_refunded(
            event_id=eid,
            charge_id=c.charge_id,
            customer_id=c.customer_id,
            email=c.email,
            created=at,
        )
    if spec.kind == "cancel":
        return se.customer_subscription_deleted(
            event_id=eid, subscription_id=sub, customer_id=cus, created=at, started=c.purchased_at
        )
    if spec.kind == "dispute":
        return se.charge_dispute_created(
            event_id=eid, dispute_id=f"dp_{eid[4:]}", charge_id=c.charge_id, created=at
        )
    raise ValueError(f"unknown event kind {spec.kind!r}")


def story_counts(customers: list[Customer]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in customers:
        counts[c.story] = counts.get(c.story, 0) + 1
    return dict(sorted(counts.items()))
