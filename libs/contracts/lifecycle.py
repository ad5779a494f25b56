"""The one customer state model and its pure state machine.

A provider event is first normalized into a `Signal` (what happened, in Switchboard's words). The
state machine then decides, from the customer's current state and the signal's time, what the
lifecycle becomes. Every (lifecycle, signal) pair has an entry in `_TABLE`, so no combination is
left undefined; a test enumerates them all.

Ordering. Stripe delivers in any order, so the state keeps `lifecycle_at`, the provider time of the
newest signal that decided the lifecycle, and a signal older than that is stale: recorded, never
applied. A signal decides the lifecycle when it moves it, and also when it leaves it where it is
because the lifecycle already says what the signal says about access (`_confirmed_by`): a refund
on a lead ("no access as of t") must make an older purchase stale, or that purchase, delivered
late, would grant access the refund took away. A signal whose meaning depends on what came before
(a failed renewal on a lead, whose purchase has not arrived yet) decides nothing when it leaves
the lifecycle alone, and records no time.
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

_HAS_ACCESS: Final = frozenset({L.PAID, L.ACTIVE, L.PAST_DUE})
_NO_ACCESS: Final = frozenset(L) - _HAS_ACCESS


def _confirmed_by(signal: Signal) -> frozenset[Lifecycle]:
    """The lifecycles in which `signal`, leaving the lifecycle where it is, still decides it.

    Only a signal whose outcome for access does not depend on the state it finds can: a payment
    always grants access, a cancel, full refund, chargeback or pause always ends it, whatever came
    before. So, whatever an older signal did, this one has the last word on access, and it confirms
    the lifecycles that already agree with it. Every other signal's outcome depends on history
    (a subscription turning `active` does not undo a refund; a failed renewal means nothing to a
    lead): leaving the lifecycle alone, it decides nothing, so an older signal that arrives later
    still applies.
    """
    if signal not in PROVIDER_SIGNALS:
        return frozenset()
    outcomes = {_TABLE[signal][state] in _HAS_ACCESS for state in L}
    if outcomes == {True}:
        return _HAS_ACCESS
    if outcomes == {False}:
        return _NO_ACCESS
    return frozenset()


#: per signal, where it records its time without moving the lifecycle (see `_confirmed_by`)
_CONFIRMS: Final = {signal: _confirmed_by(signal) for signal in S}


class CustomerState(BaseModel):
    """The part of the canonical customer the state machine reads and writes."""

    model_config = ConfigDict(frozen=True)

    lifecycle: Lifecycle = Lifecycle.LEAD
    #: provider time (unix seconds) of the newest signal that decided the lifecycle: one that
    #: moved it, or one the lifecycle already agreed with (`decides`)
    lifecycle_at: int = 0
    #: grows by one with every lifecycle change; never shrinks
    version: int = Field(default=0, ge=0)


class Transition(BaseModel):
    """The state machine's decision for one signal."""

    model_config = ConfigDict(frozen=True)

    before: CustomerState
    after: CustomerState
    #: the signal is older than what last decided the lifecycle, so it was recorded, not applied
    stale: bool

    @property
    def moved(self) -> bool:
        return self.before.lifecycle is not self.after.lifecycle


def next_lifecycle(current: Lifecycle, signal: Signal) -> Lifecycle:
    """The table lookup, without any ordering rule."""
    return _TABLE[signal][current]


def decides(current: Lifecycle, signal: Signal) -> bool:
    """Whether `signal`, applied to `current`, decides the lifecycle (and so records its time):
    it moves it, or the lifecycle already says what the signal says."""
    if signal not in PROVIDER_SIGNALS:
        return False
    return next_lifecycle(current, signal) is not current or current in _CONFIRMS[signal]


def transition(state: CustomerState, signal: Signal, occurred_at: int) -> Transition:
    """Apply `signal`, which happened at `occurred_at` (provider time), to `state`.

    A provider signal older than the one that last decided the lifecycle never moves it: Stripe
    delivers in any order, so a late `invoice.payment_failed` must not undo a newer payment, and a
    late purchase must not undo a newer refund. A newer signal that decides the lifecycle records
    its time even when the lifecycle stays (`decides`). The version grows whenever the lifecycle
    changes; callers bump it for other changes (email, products) too.
    """
    if signal in PROVIDER_SIGNALS and occurred_at < state.lifecycle_at:
        return Transition(before=state, after=state, stale=True)
    target = next_lifecycle(state.lifecycle, signal)
    lifecycle_at = state.lifecycle_at
    if decides(state.lifecycle, signal):
        lifecycle_at = max(state.lifecycle_at, occurred_at)
    version = state.version + (0 if target is state.lifecycle else 1)
    after = CustomerState(lifecycle=target, lifecycle_at=lifecycle_at, version=version)
    return Transition(before=state, after=after, stale=False)
