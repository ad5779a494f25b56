from __future__ import annotations

import itertools
from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.contracts import (
    HISTORY_LIMIT,
    PROVIDER_SIGNALS,
    CustomerState,
    Lifecycle,
    Signal,
    fold,
    next_lifecycle,
    transition,
)

L, S = Lifecycle, Signal

states = st.builds(
    lambda lifecycle, at, version: CustomerState(
        lifecycle=lifecycle, lifecycle_at=at, version=version, base=lifecycle, base_at=at
    ),
    st.sampled_from(Lifecycle),
    st.integers(min_value=0, max_value=2_000_000_000),
    st.integers(min_value=0, max_value=10_000),
)
signals = st.sampled_from(Signal)
times = st.integers(min_value=0, max_value=2_000_000_000)


@pytest.mark.parametrize(("lifecycle", "signal"), list(itertools.product(Lifecycle, Signal)))
def test_every_pair_has_a_defined_outcome(lifecycle: Lifecycle, signal: Signal) -> None:
    assert next_lifecycle(lifecycle, signal) in Lifecycle


@pytest.mark.parametrize(
    ("start", "signal", "end"),
    [
        (Lifecycle.LEAD, Signal.PAYMENT_SUCCEEDED, Lifecycle.PAID),
        (Lifecycle.PAID, Signal.INTEGRATIONS_CONFIRMED, Lifecycle.ACTIVE),
        (Lifecycle.ACTIVE, Signal.PAYMENT_SUCCEEDED, Lifecycle.ACTIVE),
        (Lifecycle.ACTIVE, Signal.PAYMENT_FAILED, Lifecycle.PAST_DUE),
        (Lifecycle.PAST_DUE, Signal.PAYMENT_SUCCEEDED, Lifecycle.ACTIVE),
        (Lifecycle.ACTIVE, Signal.REFUNDED, Lifecycle.CANCELED),
        (Lifecycle.PAST_DUE, Signal.DISPUTED, Lifecycle.CANCELED),
        (Lifecycle.ACTIVE, Signal.SUBSCRIPTION_CANCELED, Lifecycle.CANCELED),
        (Lifecycle.ACTIVE, Signal.SUBSCRIPTION_PAUSED, Lifecycle.PAUSED),
        (Lifecycle.PAUSED, Signal.SUBSCRIPTION_RESUMED, Lifecycle.PAID),
        (Lifecycle.CANCELED, Signal.PAYMENT_SUCCEEDED, Lifecycle.PAID),
        (Lifecycle.CANCELED, Signal.SUBSCRIPTION_ACTIVE, Lifecycle.CANCELED),
        (Lifecycle.LEAD, Signal.REFUNDED, Lifecycle.LEAD),
        (Lifecycle.LEAD, Signal.INTEGRATIONS_CONFIRMED, Lifecycle.LEAD),
    ],
)
def test_the_business_rules(start: Lifecycle, signal: Signal, end: Lifecycle) -> None:
    assert next_lifecycle(start, signal) is end


@given(states, signals, times)
def test_version_never_shrinks_and_grows_by_one_on_a_move(
    state: CustomerState, signal: Signal, at: int
) -> None:
    result = transition(state, signal, at)
    assert result.after.version >= state.version
    assert result.after.version == state.version + (1 if result.moved else 0)


@given(states, st.sampled_from(sorted(PROVIDER_SIGNALS)), times)
def test_a_signal_older_than_the_base_is_stale_and_changes_nothing(
    state: CustomerState, signal: Signal, at: int
) -> None:
    result = transition(state, signal, at, "evt_x")
    if at < state.base_at:
        assert result.stale
        assert not result.applied
        assert result.after == state


@given(states, signals, times)
def test_lifecycle_time_never_goes_back(state: CustomerState, signal: Signal, at: int) -> None:
    assert transition(state, signal, at).after.lifecycle_at >= state.lifecycle_at


@given(st.lists(st.tuples(signals, times), max_size=30))
def test_versions_only_grow_over_any_sequence(events: list[tuple[Signal, int]]) -> None:
    state = CustomerState()
    for signal, at in events:
        after = transition(state, signal, at).after
        assert after.version >= state.version
        state = after


def test_confirmation_does_not_reorder_provider_time() -> None:
    """A late refund older than the confirmation must still cancel: confirmation is not a
    provider event and must not move the ordering clock."""
    paid = transition(CustomerState(), Signal.PAYMENT_SUCCEEDED, 100).after
    active = transition(paid, Signal.INTEGRATIONS_CONFIRMED, 10_000).after
    assert active.lifecycle is Lifecycle.ACTIVE
    assert active.lifecycle_at == 100
    assert transition(active, Signal.REFUNDED, 150).after.lifecycle is Lifecycle.CANCELED


# -- delivery order --------------------------------------------------------------------------------
#
# Stripe delivers in any order. The lifecycle is the fold of the customer's signals in time order,
# so every delivery order of the same signals ends in the same lifecycle as time order does.

PROVIDER = tuple(sorted(PROVIDER_SIGNALS - {S.NONE}))


def deliver(start: Lifecycle, events: Iterable[tuple[Signal, int]]) -> Lifecycle:
    state = CustomerState(lifecycle=start, base=start)
    for n, (signal, at) in enumerate(events):
        state = transition(state, signal, at, f"evt_{signal}_{at}_{n}").after
    return state.lifecycle


def deliver_events(start: Lifecycle, events: Iterable[tuple[Signal, int, str]]) -> CustomerState:
    state = CustomerState(lifecycle=start, base=start)
    for signal, at, event_id in events:
        state = transition(state, signal, at, event_id).after
    return state


@st.composite
def interleavings(
    draw: st.DrawFn,
) -> tuple[Lifecycle, list[tuple[Signal, int, str]], list[tuple[Signal, int, str]]]:
    """A starting lifecycle, a customer's events in time order (ties allowed: Stripe's clock has
    seconds), and a delivery order of them with some delivered more than once."""
    start = draw(st.sampled_from(Lifecycle))
    count = draw(st.integers(1, 10))
    times = sorted(draw(st.lists(st.integers(1, 20), min_size=count, max_size=count)))
    events = [(draw(st.sampled_from(PROVIDER)), at, f"evt_{n}") for n, at in enumerate(times)]
    redelivered = draw(st.lists(st.sampled_from(events), max_size=4))
    return start, events, draw(st.permutations(events + redelivered))


@given(interleavings())
def test_any_interleaving_ends_where_time_order_ends(
    case: tuple[Lifecycle, list[tuple[Signal, int, str]], list[tuple[Signal, int, str]]],
) -> None:
    start, in_time_order, delivered = case
    expected = deliver_events(start, in_time_order)
    got = deliver_events(start, delivered)
    assert got.lifecycle is expected.lifecycle
    assert got.history == expected.history


@pytest.mark.parametrize("ending", [S.REFUNDED, S.DISPUTED, S.SUBSCRIPTION_CANCELED])
@pytest.mark.parametrize("purchase", [S.PAYMENT_SUCCEEDED, S.SUBSCRIPTION_ACTIVE])
def test_a_refund_delivered_before_its_purchase_ends_canceled(
    purchase: Signal, ending: Signal
) -> None:
    """The soak's defect: the refund, delivered first, left the customer `lead`."""
    ended = transition(CustomerState(), ending, 200, "evt_end").after
    assert ended.lifecycle is L.LEAD  # nothing to take away yet
    late = transition(ended, purchase, 100, "evt_buy")
    assert late.stale  # out of order ...
    assert late.after.lifecycle is L.CANCELED  # ... and still folded in its place
    assert late.after.version == ended.version + 1  # a change downstream systems must see
    assert deliver(L.LEAD, [(purchase, 100), (ending, 200)]) is L.CANCELED


def test_a_failed_renewal_seen_before_its_purchase_ends_past_due() -> None:
    assert deliver(L.LEAD, [(S.PAYMENT_FAILED, 200), (S.PAYMENT_SUCCEEDED, 100)]) is L.PAST_DUE


def test_a_chargeback_older_than_a_failed_renewal_still_cancels() -> None:
    """Kept the (lifecycle, time) pair only, the failure delivered first made this one stale."""
    events = [(S.PAYMENT_SUCCEEDED, 100), (S.PAYMENT_FAILED, 300), (S.DISPUTED, 200)]
    assert deliver(L.LEAD, events) is L.CANCELED


def test_a_redelivered_signal_changes_nothing() -> None:
    paid = transition(CustomerState(), S.PAYMENT_SUCCEEDED, 100, "evt_1").after
    again = transition(paid, S.PAYMENT_SUCCEEDED, 100, "evt_1")
    assert not again.applied
    assert again.after == paid


def test_at_the_same_second_the_ending_wins() -> None:
    assert deliver(L.LEAD, [(S.REFUNDED, 100), (S.PAYMENT_SUCCEEDED, 100)]) is L.CANCELED


def test_the_history_is_bounded_and_its_oldest_signals_become_the_base() -> None:
    state = transition(CustomerState(), S.PAYMENT_SUCCEEDED, 1, "evt_buy").after
    for n in range(HISTORY_LIMIT + 5):
        state = transition(state, S.PAYMENT_SUCCEEDED, 10 + n, f"evt_renew_{n}").after
    assert len(state.history) == HISTORY_LIMIT
    assert state.base is L.PAID
    assert state.base_at == 10 + 4
    assert fold(state.base, state.history) is state.lifecycle is L.PAID
    older = transition(state, S.REFUNDED, 5, "evt_old_refund")
    assert older.stale
    assert not older.applied
    assert older.after == state


def test_a_confirmation_folds_after_what_it_saw_and_before_what_came_later() -> None:
    paid = transition(CustomerState(), S.PAYMENT_SUCCEEDED, 100, "evt_buy").after
    active = transition(paid, S.INTEGRATIONS_CONFIRMED, 0, "sb_confirm").after
    assert active.lifecycle is L.ACTIVE
    # an older renewal delivered late keeps it active; a newer refund ends it
    assert transition(active, S.PAYMENT_SUCCEEDED, 90, "evt_r").after.lifecycle is L.ACTIVE
    assert transition(active, S.REFUNDED, 150, "evt_refund").after.lifecycle is L.CANCELED
    # a confirmation means nothing to a customer who is not `paid`
    assert transition(CustomerState(), S.INTEGRATIONS_CONFIRMED, 0).after == CustomerState()
