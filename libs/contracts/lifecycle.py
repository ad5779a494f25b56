"""The one customer state model and its pure state machine.

A provider event is first normalized into a `Signal` (what happened, in Switchboard's words). The
state machine then decides, from the customer's current state and the signal's time, what the
lifecycle becomes. Every (lifecycle, signal) pair has an entry in `_TABLE`, so no combination is
left undefined; a test enumerates them all.

Ordering. Stripe delivers in any order, and a redelivery can bring a purchase after its own
refund. So the lifecycle is never moved by the newest arrival alone: the state keeps the
customer's provider signals (`history`, sorted by provider time) and the lifecycle is the fold of
the table over them, in time order. Whatever order the same signals arrive in, the lifecycle is
the one they give in time order: a refund applied before its older purchase ends at `canceled`,
exactly as when the purchase came first. The history is bounded (`HISTORY_LIMIT`); its oldest
signals are folded into a base state, and a signal older than the base is stale: recorded,
never applied.

`INTEGRATIONS_CONFIRMED` is Switchboard's own signal, not the provider's: it enters the history
right after the newest provider signal known when the confirmation came, so a provider signal
that is older still folds in before it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, model_validator


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

#: At the same provider second, the order in which signals fold: a payment before what ends it,
#: and Switchboard's confirmation after every provider signal it could have seen.
_SAME_SECOND_RANK: Final = {
    S.PAYMENT_SUCCEEDED: 0,
    S.SUBSCRIPTION_ACTIVE: 0,
    S.SUBSCRIPTION_RESUMED: 1,
    S.PAYMENT_FAILED: 2,
    S.SUBSCRIPTION_PAST_DUE: 2,
    S.SUBSCRIPTION_PAUSED: 3,
    S.SUBSCRIPTION_CANCELED: 4,
    S.REFUNDED: 4,
    S.DISPUTED: 4,
    S.NONE: 5,
    S.INTEGRATIONS_CONFIRMED: 6,
}

#: signals kept in a customer's history; older ones are folded into its base state
HISTORY_LIMIT: Final = 100


def has_access(lifecycle: Lifecycle) -> bool:
    return lifecycle in _HAS_ACCESS


class SignalRecord(BaseModel):
    """One signal in a customer's history."""

    model_config = ConfigDict(frozen=True)

    at: int  # provider time (unix seconds); for a confirmation, the newest provider time known
    signal: Signal
    event_id: str = ""  # the event that carried it: duplicates are recognised, ties broken

    def sort_key(self) -> tuple[int, int, str]:
        return (self.at, _SAME_SECOND_RANK[self.signal], self.event_id)


class CustomerState(BaseModel):
    """The part of the canonical customer the state machine reads and writes."""

    model_config = ConfigDict(frozen=True)

    lifecycle: Lifecycle = Lifecycle.LEAD
    #: provider time (unix seconds) of the newest signal in the history (or of the base)
    lifecycle_at: int = 0
    #: grows by one with every lifecycle change; never shrinks
    version: int = Field(default=0, ge=0)
    #: the lifecycle before the oldest signal of `history`, and the time it holds from: a signal
    #: older than `base_at` is stale
    base: Lifecycle = Lifecycle.LEAD
    base_at: int = 0
    #: the signals that fold into `lifecycle`, in time order (`SignalRecord.sort_key`)
    history: tuple[SignalRecord, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _base_is_the_lifecycle_without_history(cls, data: Any) -> Any:
        """A state given without history (or a record from before it was kept) stands as its
        own base: its lifecycle, as of its time."""
        if isinstance(data, dict) and not data.get("history"):
            data = {**data}
            data.setdefault("base", data.get("lifecycle", Lifecycle.LEAD))
            data.setdefault("base_at", data.get("lifecycle_at", 0))
        return data


class Transition(BaseModel):
    """The state machine's decision for one signal."""

    model_config = ConfigDict(frozen=True)

    before: CustomerState
    after: CustomerState
    #: the signal is older than the newest one already known: it arrived out of order. It still
    #: folds into the lifecycle in its place, unless it is older than the base (`applied`).
    stale: bool
    #: the signal entered the history (False: older than the base, a duplicate, or no signal)
    applied: bool = True

    @property
    def moved(self) -> bool:
        return self.before.lifecycle is not self.after.lifecycle


def next_lifecycle(current: Lifecycle, signal: Signal) -> Lifecycle:
    """The table lookup, without any ordering rule."""
    return _TABLE[signal][current]


def fold(base: Lifecycle, history: tuple[SignalRecord, ...]) -> Lifecycle:
    """The lifecycle that `history`, in time order, gives from `base`."""
    lifecycle = base
    for record in sorted(history, key=SignalRecord.sort_key):
        lifecycle = next_lifecycle(lifecycle, record.signal)
    return lifecycle


def transition(
    state: CustomerState, signal: Signal, occurred_at: int, event_id: str = ""
) -> Transition:
    """Apply `signal`, which happened at `occurred_at` (provider time), to `state`.

    The signal takes its place in the history by time and the lifecycle is folded again, so
    arrival order never matters. The version grows whenever the lifecycle changes; callers bump
    it for other changes (email, products) too.
    """
    newest = max((r.at for r in state.history), default=state.base_at)
    if signal is S.INTEGRATIONS_CONFIRMED:
        if state.lifecycle is not L.PAID:
            return Transition(before=state, after=state, stale=False, applied=False)
        record = SignalRecord(at=newest, signal=signal, event_id=event_id)
    elif signal is S.NONE or occurred_at < state.base_at:
        # no lifecycle meaning, or older than all the history kept: nothing to fold
        return Transition(before=state, after=state, stale=occurred_at < newest, applied=False)
    else:
        record = SignalRecord(at=occurred_at, signal=signal, event_id=event_id)
    if event_id and any(r.event_id == event_id and r.signal is signal for r in state.history):
        return Transition(before=state, after=state, stale=False, applied=False)
    history = tuple(sorted((*state.history, record), key=SignalRecord.sort_key))
    base, base_at = state.base, state.base_at
    if len(history) > HISTORY_LIMIT:
        folded, history = history[:-HISTORY_LIMIT], history[-HISTORY_LIMIT:]
        base, base_at = fold(base, folded), folded[-1].at
    target = fold(base, history)
    after = CustomerState(
        lifecycle=target,
        lifecycle_at=max(newest, record.at),
        version=state.version + (0 if target is state.lifecycle else 1),
        base=base,
        base_at=base_at,
        history=history,
    )
    stale = signal is not S.INTEGRATIONS_CONFIRMED and occurred_at < newest
    return Transition(before=state, after=after, stale=stale)
