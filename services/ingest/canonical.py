"""The canonical customer and how one Stripe change moves it. Pure: no I/O, no clock.

Ingest is the only writer of this record. Every applied change that alters what downstream
systems should hold bumps `version`, and the published `CustomerEvent` is built from the record
after the change, so workers always receive a whole desired state, never a delta.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from libs.contracts import (
    CustomerEvent,
    CustomerState,
    Lifecycle,
    ProviderIds,
    Signal,
    Source,
    transition,
)

from .normalize import StripeChange

#: how many recent ids to keep; FerretDB ignores `$push`+`$slice`, so the list is trimmed here.
RECENT_LIMIT: Final = 50
#: how many earlier addresses to remember (and publish): workers look each one up on every event
#: of the customer, so this stays small
PREVIOUS_EMAILS_LIMIT: Final = 3


class IntegrationStatus(BaseModel):
    status: str = "pending"  # pending / synced / failed
    version: int = 0
    event_id: str | None = None
    error: str | None = None
    at: datetime | None = None


class CanonicalCustomer(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    customer_id: str = Field(alias="_id")
    email: str
    #: addresses the customer had before `email`, most recent first; downstream systems may still
    #: hold the customer under one of them
    previous_emails: tuple[str, ...] = ()
    name: str | None = None
    lifecycle: Lifecycle = Lifecycle.LEAD
    lifecycle_at: int = 0
    version: int = 0
    revision: int = 0  # grows on every write; the compare-and-set key
    needs_support: bool = False
    #: support's open incidents (ids), from support.incidents.v1; `needs_support` follows them
    open_incidents: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    stripe_customer_id: str | None = None
    subscription_ids: tuple[str, ...] = ()
    payment_ids: tuple[str, ...] = ()
    recent_event_ids: tuple[str, ...] = ()
    integrations: dict[str, IntegrationStatus] = {}

    @property
    def state(self) -> CustomerState:
        return CustomerState(
            lifecycle=self.lifecycle, lifecycle_at=self.lifecycle_at, version=self.version
        )


class Applied(BaseModel):
    model_config = ConfigDict(frozen=True)

    customer: CanonicalCustomer
    changed: bool  # something downstream systems care about changed: publish
    stale: bool  # the event is older than what last moved the lifecycle

    @property
    def outcome(self) -> str:
        """How the event's record reports it: stale, applied or no_change."""
        return "stale" if self.stale else ("applied" if self.changed else "no_change")


def _merge(existing: tuple[str, ...], new: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*existing, *new)))[-RECENT_LIMIT:]


def _remember(previous: tuple[str, ...], old: str, new: str) -> tuple[str, ...]:
    """`old` first, then the earlier ones; never `new` (a customer may return to an address),
    nor the empty address of a record created before its email was known."""
    kept: dict[str, str] = {}
    for address in (old, *previous):
        if address.strip() and address.lower() != new.lower():
            kept.setdefault(address.lower(), address)
    return tuple(kept.values())[:PREVIOUS_EMAILS_LIMIT]


def apply_change(customer: CanonicalCustomer, change: StripeChange) -> Applied:
    moved = transition(customer.state, change.signal, change.occurred_at)
    updates: dict[str, object] = {
        "recent_event_ids": _merge(customer.recent_event_ids, (change.event_id,)),
        "payment_ids": _merge(customer.payment_ids, change.payment_ids),
    }
    if change.subscription_id:
        updates["subscription_ids"] = _merge(customer.subscription_ids, (change.subscription_id,))
    if change.stripe_customer_id and not customer.stripe_customer_id:
        updates["stripe_customer_id"] = change.stripe_customer_id
    if moved.after.lifecycle is not customer.lifecycle:
        updates["lifecycle"] = moved.after.lifecycle
    # The time can move without the lifecycle (a refund of a lead): it is saved, so an older
    # event delivered later is stale, but it is not a change downstream systems see.
    if moved.after.lifecycle_at != customer.lifecycle_at:
        updates["lifecycle_at"] = moved.after.lifecycle_at
    # Newer facts only: a stale event may not rewrite the email, name or products either.
    if not moved.stale:
        if change.email and change.email.lower() != customer.email.lower():
            updates["email"] = change.email
            updates["previous_emails"] = _remember(
                customer.previous_emails, customer.email, change.email
            )
        if change.name and change.name != customer.name:
            updates["name"] = change.name
        if change.products and set(change.products) != set(customer.products):
            updates["products"] = change.products
    downstream = {"lifecycle", "email", "name", "products"}
    changed = bool(downstream & updates.keys())
    if changed:
        updates["version"] = customer.version + 1
    return Applied(customer=customer.model_copy(update=updates), changed=changed, stale=moved.stale)


def customer_event(customer: CanonicalCustomer, source: Source) -> CustomerEvent:
    return CustomerEvent(
        event_id=source.event_id,
        customer_id=customer.customer_id,
        version=customer.version,
        email=customer.email,
        previous_emails=customer.previous_emails,
        name=customer.name,
        lifecycle=customer.lifecycle,
        needs_support=customer.needs_support,
        products=customer.products,
        provider_ids=ProviderIds(
            stripe_customer_id=customer.stripe_customer_id,
            stripe_subscription_ids=customer.subscription_ids,
            stripe_payment_ids=customer.payment_ids,
        ),
        source=source,
    )


def stripe_source(change: StripeChange) -> Source:
    return Source(
        provider="stripe",
        event_id=change.event_id,
        event_type=change.event_type,
        occurred_at=datetime.fromtimestamp(change.occurred_at, UTC),
    )


#: outcomes that mean "this integration holds the customer's state (or is not meant to)"
_CONFIRMING = {"synced": "synced", "off": "off", "shadow": "shadow"}


def apply_result(
    customer: CanonicalCustomer,
    integration: str,
    outcome: str,
    version: int,
    event_id: str,
    error: str | None,
    at: datetime,
    enabled: tuple[str, ...],
) -> tuple[CanonicalCustomer, bool]:
    """Record one worker outcome; return the customer and whether it was just confirmed active.

    Stale and duplicate outcomes say nothing new. An outcome for an older version than the one
    already recorded for that integration is ignored, so statuses never go back in time.
    """
    status = _CONFIRMING.get(outcome) or ("failed" if outcome == "failed" else None)
    known = customer.integrations.get(integration)
    if status is None or (known is not None and version < known.version):
        return customer, False
    integrations = dict(customer.integrations)
    integrations[integration] = IntegrationStatus(
        status=status, version=version, event_id=event_id, error=error, at=at
    )
    updated = customer.model_copy(update={"integrations": integrations})
    confirmed = all(
        (s := integrations.get(name)) is not None
        and s.status in _CONFIRMING.values()
        and s.version >= customer.version
        for name in enabled
    )
    if customer.lifecycle is not Lifecycle.PAID or not confirmed:
        return updated, False
    moved = transition(customer.state, Signal.INTEGRATIONS_CONFIRMED, 0)
    return updated.model_copy(
        update={"lifecycle": moved.after.lifecycle, "version": moved.after.version}
    ), True


def status_of(customer: CanonicalCustomer, integration: str) -> str:
    known = customer.integrations.get(integration)
    if known is None or (known.version < customer.version and known.status != "failed"):
        return "pending"
    return known.status


_NEXT_STEP = {
    Lifecycle.LEAD: "We have not received a payment from this email address yet.",
    Lifecycle.PAID: "Payment received — your community access is being set up.",
    Lifecycle.ACTIVE: "You're all set — your membership is active.",
    Lifecycle.PAST_DUE: "Your last payment failed — please update your payment method to keep "
    "your access.",
    Lifecycle.PAUSED: "Your membership is paused.",
    Lifecycle.CANCELED: "Your membership has ended.",
}


def next_step(customer: CanonicalCustomer, statuses: dict[str, str]) -> str:
    if customer.lifecycle is Lifecycle.PAID and (
        customer.needs_support or "failed" in statuses.values()
    ):
        return (
            "Payment received — setting up your access is taking longer than usual; "
            "our team has been notified and will sort it out."
        )
    return _NEXT_STEP[customer.lifecycle]
