"""The one customer state model and its pure state machine.

A provider event is first normalized into a `Signal` (what happened, in Switchboard's words). The
state machine then decides, from the customer's current state and the signal's time, what the
lifecycle becomes. Every (lifecycle, signal) pair has an entry in `_TABLE`, so no combination is
left undefined; a test enumerates them all.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field


class Lifecycle(StrEnum):
    LEAD = "lead"  # known, never paid
    PAID = "paid"  # payment confirmed; access being provisioned
    ACTIVE = "active"  # paid and every enabled integration confirmed the grant
    PAST_DUE = "past_due"  # a renewal failed; still inside the grace period
    PAUSED = "paused"  # subscription paused
    CANCELED = "canceled"  # canceled, fully refunded or charged back: access must go


class Signal(StrEnum):
    """What a provider event means for the lifecycle, whatever provider sent it."""

    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    SUBSCRIPTION_ACTIVE = "subscription_active"
    SUBSCRIPTION_PAST_DUE = "subscription_past_due"
    SUBSCRIPTION_PAUSED = "subscription_paused"
    SUBSCRIPTION_RESUMED = "subscription_resumed"
    SUBSCRIPTION_CANCELED = "subscription_canceled"
    REFUNDED = "refunded"
    DISPUTED = "disputed"
    INTEGRATIONS_CONFIRMED = "integrations_confirmed"
    NONE = "none"  # no lifecycle meaning (customer.updated, unknown types, partial refunds)


L, S = Lifecycle, Signal

# Losing access (cancel, full refund, chargeback) wins from every paying state; a lead never paid,
# so there is nothing to take away and it stays a lead.
_ACCESS_ENDS: Final = {
    L.LEAD: L.LEAD,
    L.PAID: L.CANCELED,
    L.ACTIVE: L.CANCELED,
    L.PAST_DUE: L.CANCELED,
    L.PAUSED: L.CANCELED,
    L.CANCELED: L.CANCELED,
}

# A successful payment re-grants access; an `active` customer whose grants were confirmed stays
# active, and a past_due one never lost access, so it returns to active directly.
_PAYMENT_OK: Final = {
    L.LEAD: L.PAID,
    L.PAID: L.PAID,
    L.ACTIVE: L.ACTIVE,
    L.PAST_DUE: L.ACTIVE,
    L.PAUSED: L.PAID,
    L.CANCELED: L.PAID,
}

_PAYMENT_BAD: Final = {
    L.LEAD: L.LEAD,
    L.PAID: L.PAST_DUE,
    L.ACTIVE: L.PAST_DUE,
    L.PAST_DUE: L.PAST_DUE,
    L.PAUSED: L.PAUSED,
    L.CANCELED: L.CANCELED,
}

_TABLE: Final[dict[Signal, dict[Lifecycle, Lifecycle]]] = {
    S.PAYMENT_SUCCEEDED: _PAYMENT_OK,
    S.SUBSCRIPTION_ACTIVE: {**_PAYMENT_OK, L.CANCELED: L.CANCELED},
    S.PAYMENT_FAILED: _PAYMENT_BAD,
    S.SUBSCRIPTION_PAST_DUE: _PAYMENT_BAD,
    S.SUBSCRIPTION_PAUSED: {
        L.LEAD: L.LEAD,
        L.PAID: L.PAUSED,
        L.ACTIVE: L.PAUSED,
        L.PAST_DUE: L.PAUSED,
        L.PAUSED: L.PAUSED,
        L.CANCELED: L.CANCELED,
    },
    S.SUBSCRIPTION_RESUMED: {
        L.LEAD: L.LEAD,
        L.PAID: L.PAID,
        L.ACTIVE: L.ACTIVE,
        L.PAST_DUE: L.PAST_DUE,
        L.PAUSED: L.PAID,
        L.CANCELED: L.CANCELED,
    },
    S.SUBSCRIPTION_CANCELED: _ACCESS_ENDS,
    S.REFUNDED: _ACCESS_ENDS,
    S.DISPUTED: _ACCESS_ENDS,
    S.INTEGRATIONS_CONFIRMED: {**{state: state for state in L}, L.PAID: L.ACTIVE},
    S.NONE: {state: state for state in L},
}

#: Signals that come from the payment provider and are ordered by the provider's event time.
#: INTEGRATIONS_CONFIRMED is Switchboard's own and is not ordered against provider time.
PROVIDER_SIGNALS: Final = frozenset(S) - {S.INTEGRATIONS_CONFIRMED}


class CustomerState(BaseModel):
    """The part of the canonical customer the state machine reads and writes."""

    model_config = ConfigDict(frozen=True)

    lifecycle: Lifecycle = Lifecycle.LEAD
    #: provider time (unix seconds) of the event that last moved the lifecycle
    lifecycle_at: int = 0
    #: grows by one with every applied change; never shrinks
    version: int = Field(default=0, ge=0)


class Transition(BaseModel):
    """The state machine's decision for one signal."""

    model_config = ConfigDict(frozen=True)

    before: CustomerState
    after: CustomerState
    #: the signal is older than what last moved the lifecycle, so it was recorded, not applied
    stale: bool

    @property
    def moved(self) -> bool:
        return self.before.lifecycle is not self.after.lifecycle


def next_lifecycle(current: Lifecycle, signal: Signal) -> Lifecycle:
    """The table lookup, without any ordering rule."""
    return _TABLE[signal][current]


def transition(state: CustomerState, signal: Signal, occurred_at: int) -> Transition:
    """Apply `signal`, which happened at `occurred_at` (provider time), to `state`.

    An event older than the one that last moved the lifecycle never moves it: Stripe delivers in
    any order, so a late `invoice.payment_failed` must not undo a newer payment. The version grows
    whenever the lifecycle changes; callers bump it for other changes (email, products) too.
    """
    if signal in PROVIDER_SIGNALS and occurred_at < state.lifecycle_at:
        return Transition(before=state, after=state, stale=True)
    target = next_lifecycle(state.lifecycle, signal)
    if target is state.lifecycle:
        return Transition(before=state, after=state, stale=False)
    lifecycle_at = state.lifecycle_at
    if signal in PROVIDER_SIGNALS:
        lifecycle_at = max(state.lifecycle_at, occurred_at)
    after = CustomerState(lifecycle=target, lifecycle_at=lifecycle_at, version=state.version + 1)
    return Transition(before=state, after=after, stale=False)
