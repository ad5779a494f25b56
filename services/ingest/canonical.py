"""The canonical customer and how one Stripe change moves it. Pure: no I/O, no clock.

Ingest is the only writer of this record. Every applied change that alters what downstream
systems should hold bumps `version`, and the published `CustomerEvent` is built from the record
after the change, so workers always receive a whole desired state, never a delta.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from libs.contracts import (
    CustomerEvent,
    CustomerState,
    Lifecycle,
    ProviderIds,
    Signal,
    SignalRecord,
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
    #: synced / failed / off / shadow, or a progress report (still pending): retrying / waiting
    status: str = "pending"
    version: int = 0
    event_id: str | None = None
    error: str | None = None
    at: datetime | None = None
    attempts: int = 0
    #: for `waiting`: when the worker expects to run the step
    expected_at: datetime | None = None


class Step(BaseModel):
    """Where one integration stands for a customer: never pending without a reason."""

    model_config = ConfigDict(frozen=True)

    status: str  # pending / synced / failed / off / shadow
    #: why it is pending: `queued` (published, the worker has not reported yet), `retrying`
    #: (an attempt failed; `attempts` and `error` say more) or `waiting` (the worker holds it
    #: behind others under the provider's rate limit; `expected_at` says until about when);
    #: `nothing_to_sync` for a customer no change was ever published for (a lead: every system
    #: already holds nothing)
    reason: str | None = None
    since: datetime | None = None
    attempts: int = 0
    error: str | None = None
    #: for `waiting`: when the worker expects to run the step
    expected_at: datetime | None = None


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
    #: the state machine's ordering memory (see `libs.contracts.lifecycle`): the signals the
    #: lifecycle folds from, and the base before them. A record written before the history was
    #: kept has none: its lifecycle is then its base.
    history: tuple[SignalRecord, ...] = ()
    base_lifecycle: Lifecycle | None = None
    base_at: int | None = None
    version: int = 0
    #: when `version` last grew: since then, every integration not yet at it is queued
    version_at: datetime | None = None
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
        fields: dict[str, Any] = {
            "lifecycle": self.lifecycle,
            "lifecycle_at": self.lifecycle_at,
            "version": self.version,
            "history": self.history,
        }
        if self.base_lifecycle is not None:  # else a record from before the history was kept
            fields.update(base=self.base_lifecycle, base_at=self.base_at or 0)
        return CustomerState.model_validate(fields)

    def with_state(self, state: CustomerState) -> dict[str, object]:
        """The fields that change when the state machine moves to `state`."""
        updates: dict[str, object] = {}
        if state.lifecycle is not self.lifecycle:
            updates["lifecycle"] = state.lifecycle
        if state.lifecycle_at != self.lifecycle_at:
            updates["lifecycle_at"] = state.lifecycle_at
        if state.history != self.history:
            updates.update(history=state.history, base_lifecycle=state.base, base_at=state.base_at)
        return updates


class Applied(BaseModel):
    model_config = ConfigDict(frozen=True)

    customer: CanonicalCustomer
    changed: bool  # something downstream systems care about changed: publish
    stale: bool  # the event is older than the newest one seen: it arrived out of order

    @property
    def outcome(self) -> str:
        """How the event's record reports it: applied (it changed something, even late), stale
        (late, and changed nothing) or no_change."""
        return "applied" if self.changed else ("stale" if self.stale else "no_change")


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


def apply_change(
    customer: CanonicalCustomer, change: StripeChange, at: datetime | None = None
) -> Applied:
    """`at` is when ingest applies it (kept as `version_at` when the version grows)."""
    moved = transition(customer.state, change.signal, change.occurred_at, change.event_id)
    updates: dict[str, object] = {
        "recent_event_ids": _merge(customer.recent_event_ids, (change.event_id,)),
        "payment_ids": _merge(customer.payment_ids, change.payment_ids),
        **customer.with_state(moved.after),
    }
    if change.subscription_id:
        updates["subscription_ids"] = _merge(customer.subscription_ids, (change.subscription_id,))
    if change.stripe_customer_id and not customer.stripe_customer_id:
        updates["stripe_customer_id"] = change.stripe_customer_id
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
        updates["version_at"] = at or datetime.now(UTC)
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
#: progress reports: not an end, the step stays pending (with this as its reason)
_PROGRESS = ("retrying", "waiting")


def aware(at: datetime) -> datetime:
    """A time without a zone is UTC (what every service writes)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def apply_result(
    customer: CanonicalCustomer,
    integration: str,
    outcome: str,
    version: int,
    event_id: str,
    error: str | None,
    at: datetime,
    enabled: tuple[str, ...],
    attempts: int = 0,
    expected_at: datetime | None = None,
) -> tuple[CanonicalCustomer, bool]:
    """Record one worker outcome; return the customer and whether it was just confirmed active.

    Stale and duplicate outcomes say nothing new. An outcome for an older version than the one
    already recorded for that integration is ignored, so statuses never go back in time. A
    progress report (`retrying`, `waiting`) is ignored once the step ended for its version, and
    among the progress reports of one version the latest (by `at`) wins. `expected_at` is kept
    for `waiting` only.
    """
    status = _CONFIRMING.get(outcome) or (outcome if outcome in ("failed", *_PROGRESS) else None)
    known = customer.integrations.get(integration)
    if status is None or (known is not None and version < known.version):
        return customer, False
    if status in _PROGRESS and known is not None and known.version == version:
        if known.status not in _PROGRESS:
            return customer, False  # the step already ended: a late progress report says nothing
        if known.at is not None and aware(at) < aware(known.at):
            return customer, False  # an older progress report than the one recorded
    integrations = dict(customer.integrations)
    integrations[integration] = IntegrationStatus(
        status=status,
        version=version,
        event_id=event_id,
        error=error,
        at=at,
        attempts=attempts,
        expected_at=expected_at if status == "waiting" else None,
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
    moved = transition(customer.state, Signal.INTEGRATIONS_CONFIRMED, 0, f"confirmed_{version}")
    return updated.model_copy(
        update={
            **customer.with_state(moved.after),
            "version": moved.after.version,
            "version_at": at,
        }
    ), True


def step_of(customer: CanonicalCustomer, integration: str) -> Step:
    """Synced (or off/shadow), failed, or pending with the reason why."""
    known = customer.integrations.get(integration)
    if known is None and customer.version == 0:
        return Step(status="synced", reason="nothing_to_sync")
    if known is not None and known.status == "failed":
        # A newer version may be queued behind it; the failure (and its incident) stands
        # until a later outcome replaces it.
        return Step(status="failed", since=known.at, attempts=known.attempts, error=known.error)
    if known is not None and known.version >= customer.version and known.status not in _PROGRESS:
        return Step(status=known.status, since=known.at, attempts=known.attempts)
    if known is not None and known.version == customer.version:  # retrying / waiting this one
        return Step(
            status="pending",
            reason=known.status,
            since=known.at,
            attempts=known.attempts,
            error=known.error,
            expected_at=known.expected_at if known.status == "waiting" else None,
        )
    return Step(status="pending", reason="queued", since=customer.version_at)
