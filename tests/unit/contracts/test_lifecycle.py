from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.contracts import (
    PROVIDER_SIGNALS,
    CustomerState,
    Lifecycle,
    Signal,
    next_lifecycle,
    transition,
)

states = st.builds(
    CustomerState,
    lifecycle=st.sampled_from(Lifecycle),
    lifecycle_at=st.integers(min_value=0, max_value=2_000_000_000),
    version=st.integers(min_value=0, max_value=10_000),
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
def test_an_older_event_never_moves_the_lifecycle(
    state: CustomerState, signal: Signal, at: int
) -> None:
    result = transition(state, signal, at)
    if at < state.lifecycle_at:
        assert result.stale
        assert result.after == state
    else:
        assert not result.stale


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
