from __future__ import annotations

import itertools
from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.contracts import (
    PROVIDER_SIGNALS,
    CustomerState,
    Lifecycle,
    Signal,
    decides,
    next_lifecycle,
    transition,
)

L, S = Lifecycle, Signal

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


# -- time is recorded by every signal that decides the lifecycle ---------------------------------

#: (lifecycle, signal) pairs that leave the lifecycle where it is and still decide it: signals
#: whose outcome for access never depends on the state they find (a payment always grants; a
#: cancel, full refund, chargeback or pause always ends access), where the lifecycle agrees.
CONFIRMING = {
    (L.PAID, S.PAYMENT_SUCCEEDED),
    (L.ACTIVE, S.PAYMENT_SUCCEEDED),
    (L.LEAD, S.SUBSCRIPTION_PAUSED),
    (L.PAUSED, S.SUBSCRIPTION_PAUSED),
    (L.CANCELED, S.SUBSCRIPTION_PAUSED),
    *(
        (lifecycle, ending)
        for lifecycle in (L.LEAD, L.CANCELED)
        for ending in (S.SUBSCRIPTION_CANCELED, S.REFUNDED, S.DISPUTED)
    ),
}


@pytest.mark.parametrize(("lifecycle", "signal"), list(itertools.product(Lifecycle, Signal)))
def test_which_signals_record_their_time(lifecycle: Lifecycle, signal: Signal) -> None:
    state = CustomerState(lifecycle=lifecycle, lifecycle_at=100, version=3)
    after = transition(state, signal, 200).after
    moved = after.lifecycle is not lifecycle
    records = signal in PROVIDER_SIGNALS and (moved or (lifecycle, signal) in CONFIRMING)
    assert decides(lifecycle, signal) is records
    assert after.lifecycle_at == (200 if records else 100)
    assert after.version == 3 + (1 if moved else 0)  # recording a time is not a change


@pytest.mark.parametrize("ending", [S.REFUNDED, S.DISPUTED, S.SUBSCRIPTION_CANCELED])
def test_an_older_purchase_after_a_refund_of_a_lead_grants_nothing(ending: Signal) -> None:
    refunded = transition(CustomerState(), ending, 200).after
    assert (refunded.lifecycle, refunded.lifecycle_at, refunded.version) == (L.LEAD, 200, 0)
    late = transition(refunded, S.PAYMENT_SUCCEEDED, 100)
    assert late.stale
    assert late.after == refunded
    # A purchase after the refund is a new purchase.
    assert transition(refunded, S.PAYMENT_SUCCEEDED, 300).after.lifecycle is L.PAID


def test_a_failed_renewal_seen_before_its_purchase_does_not_block_it() -> None:
    failed = transition(CustomerState(), S.PAYMENT_FAILED, 200).after
    assert failed == CustomerState()  # means nothing to a lead: no time recorded
    assert transition(failed, S.PAYMENT_SUCCEEDED, 100).after.lifecycle is L.PAID


@pytest.mark.parametrize("later", [S.SUBSCRIPTION_ACTIVE, S.SUBSCRIPTION_RESUMED])
def test_a_subscription_update_seen_first_does_not_shield_an_older_chargeback(
    later: Signal,
) -> None:
    """`active` after a chargeback does not give access back (the table keeps canceled), so an
    `active` that leaves a paying customer where they are must not make the chargeback stale."""
    paid = transition(CustomerState(), S.PAYMENT_SUCCEEDED, 100).after
    updated = transition(paid, later, 300).after
    assert updated == paid  # decides nothing: no time recorded
    assert transition(updated, S.DISPUTED, 200).after.lifecycle is L.CANCELED
    # which is where the events in time order end too
    assert deliver(L.LEAD, [(S.PAYMENT_SUCCEEDED, 100), (S.DISPUTED, 200), (later, 300)]) is (
        L.CANCELED
    )


def test_a_renewal_confirmed_later_makes_an_older_failure_stale() -> None:
    paid = transition(CustomerState(), S.PAYMENT_SUCCEEDED, 100).after
    renewed = transition(paid, S.PAYMENT_SUCCEEDED, 300).after
    assert (renewed.lifecycle, renewed.lifecycle_at) == (L.PAID, 300)
    assert transition(renewed, S.PAYMENT_FAILED, 200).stale


# -- delivery order --------------------------------------------------------------------------------
#
# Stripe delivers in any order; an event older than what last decided the lifecycle is dropped.
# With only (lifecycle, lifecycle_at) kept, the final lifecycle cannot be independent of the
# delivery order for every set of events: an event that arrives first is applied to the state it
# finds, not to the state its older siblings would have made. What does hold:
#   * the same kind of event (all payments, all failures, all access endings) in any order;
#   * access (paid/active/past_due vs the rest), the thing downstream systems act on, for any mix
#     of purchases and access endings, and for any mix of payment and renewal events;
#   * for a new customer, access for any two events (`ORDER_DEPENDENT_PAIRS` pins which pairs
#     still end in a different lifecycle, and why).
# What does not: mixing access endings with signals whose meaning depends on history, for a
# customer who already pays. E.g. a chargeback at t1 and a failed renewal at t2, the failure
# delivered first: it moves paid -> past_due and records t2, so the chargeback is stale and
# access stays (in time order: canceled). Only keeping the recent signals and replaying them in
# time order would make every order end the same.

HAS_ACCESS = frozenset({L.PAID, L.ACTIVE, L.PAST_DUE})

#: exactly order-free, from any lifecycle
SAME_KIND = (
    (S.PAYMENT_SUCCEEDED, S.SUBSCRIPTION_ACTIVE, S.SUBSCRIPTION_RESUMED),
    (S.PAYMENT_FAILED, S.SUBSCRIPTION_PAST_DUE),
    (S.SUBSCRIPTION_CANCELED, S.REFUNDED, S.DISPUTED),
)
#: order-free in access, from any lifecycle
PURCHASES_AND_ENDINGS = (
    S.PAYMENT_SUCCEEDED,
    S.SUBSCRIPTION_CANCELED,
    S.REFUNDED,
    S.DISPUTED,
    S.SUBSCRIPTION_PAUSED,
)
PAYMENTS_AND_RENEWALS = (
    S.PAYMENT_SUCCEEDED,
    S.PAYMENT_FAILED,
    S.SUBSCRIPTION_ACTIVE,
    S.SUBSCRIPTION_PAST_DUE,
    S.SUBSCRIPTION_RESUMED,
)


def deliver(start: Lifecycle, events: Iterable[tuple[Signal, int]]) -> Lifecycle:
    state = CustomerState(lifecycle=start)
    for signal, at in events:
        state = transition(state, signal, at).after
    return state.lifecycle


@st.composite
def deliveries(
    draw: st.DrawFn, alphabet: tuple[Signal, ...]
) -> tuple[Lifecycle, list[tuple[Signal, int]], list[tuple[Signal, int]]]:
    """A starting lifecycle, a set of events with distinct times, and a delivery order of it."""
    start = draw(st.sampled_from(Lifecycle))
    times = draw(st.lists(st.integers(1, 10_000), min_size=1, max_size=8, unique=True))
    events = [(draw(st.sampled_from(alphabet)), at) for at in sorted(times)]
    return start, events, draw(st.permutations(events))


@given(st.sampled_from(SAME_KIND).flatmap(deliveries))
def test_events_of_one_kind_end_the_same_in_any_delivery_order(
    case: tuple[Lifecycle, list[tuple[Signal, int]], list[tuple[Signal, int]]],
) -> None:
    start, in_time_order, delivered = case
    assert deliver(start, delivered) is deliver(start, in_time_order)


@given(st.sampled_from((PURCHASES_AND_ENDINGS, PAYMENTS_AND_RENEWALS)).flatmap(deliveries))
def test_access_is_the_same_in_any_delivery_order(
    case: tuple[Lifecycle, list[tuple[Signal, int]], list[tuple[Signal, int]]],
) -> None:
    start, in_time_order, delivered = case
    expected = deliver(start, in_time_order) in HAS_ACCESS
    assert (deliver(start, delivered) in HAS_ACCESS) is expected


#: From a new customer, the pairs (older, newer) whose final lifecycle depends on the order.
#: The newer one delivered first finds a lead, where it means nothing beyond "no access" (or
#: nothing at all), and the older purchase then either is stale or starts from scratch:
#:   purchase, then access ended:  canceled in time order, lead when the ending comes first
#:     (the ending records its time, so the late purchase is stale: no access either way);
#:   purchase, then renewal failed:  past_due in time order, paid when the failure comes first
#:     (a failure means nothing to a lead, so it records nothing: access either way);
#:   purchase, then paused:  paused in time order, lead when the pause comes first (no access).
ORDER_DEPENDENT_PAIRS = {
    (purchase, later)
    for purchase in (S.PAYMENT_SUCCEEDED, S.SUBSCRIPTION_ACTIVE)
    for later in (
        S.SUBSCRIPTION_CANCELED,
        S.REFUNDED,
        S.DISPUTED,
        S.PAYMENT_FAILED,
        S.SUBSCRIPTION_PAST_DUE,
        S.SUBSCRIPTION_PAUSED,
    )
}


def test_which_pairs_depend_on_the_delivery_order_for_a_new_customer() -> None:
    dependent = set()
    for older, newer in itertools.product(sorted(PROVIDER_SIGNALS), repeat=2):
        in_order = deliver(L.LEAD, [(older, 1), (newer, 2)])
        reversed_ = deliver(L.LEAD, [(newer, 2), (older, 1)])
        assert (in_order in HAS_ACCESS) is (reversed_ in HAS_ACCESS), (older, newer)
        if in_order is not reversed_:
            dependent.add((older, newer))
    assert dependent == ORDER_DEPENDENT_PAIRS
