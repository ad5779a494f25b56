from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.convertkit_sync.plan import (
    Action,
    AddTag,
    ChangeEmail,
    Current,
    Desired,
    PreviousSubscriber,
    RemovePreviousTag,
    RemoveTag,
    UpsertSubscriber,
    plan,
)

MANAGED = frozenset({"customer", "churned"})


def desired(*tags: str) -> Desired:
    return Desired("jane@example.com", "Jane", frozenset(tags), MANAGED)


def current(subscriber_id: int | None, *tags: str) -> Current:
    return Current(subscriber_id=subscriber_id, tags=frozenset(tags))


@pytest.mark.parametrize(
    ("want", "have", "actions"),
    [
        (
            desired("customer"),
            current(None),
            [UpsertSubscriber("jane@example.com", "Jane"), AddTag("customer")],
        ),
        (desired("customer"), current(7), [AddTag("customer")]),
        (desired("customer"), current(7, "customer"), []),
        # cancel: the mapping swaps `customer` for `churned`
        (desired("churned"), current(7, "customer"), [AddTag("churned"), RemoveTag("customer")]),
        (desired("churned"), current(7, "churned"), []),
        (
            desired(),
            current(7, "customer", "churned"),
            [RemoveTag("churned"), RemoveTag("customer")],
        ),
        (desired(), current(None), []),
    ],
)
def test_plan(want: Desired, have: Current, actions: list[Action]) -> None:
    assert plan(want, have) == actions


def test_a_tag_the_mapping_does_not_manage_is_left_alone() -> None:
    assert plan(desired(), current(7, "newsletter")) == []


def test_action_names_are_stable() -> None:
    actions = plan(desired("churned"), current(None))
    assert [str(a) for a in actions] == ["upsert_subscriber", "add_tag:churned"]
    assert str(RemoveTag("customer")) == "remove_tag:customer"


# -- an email change -------------------------------------------------------------------------------


def moved(*tags: str) -> Desired:
    return Desired("jane@example.com", "Jane", frozenset(tags), MANAGED, ("old@example.com",))


@pytest.mark.parametrize(
    ("have", "want", "actions"),
    [
        # found only under the old address: move it, keep its tags
        (
            Current(None, frozenset(), (PreviousSubscriber(7, frozenset({"customer"})),)),
            moved("customer"),
            [ChangeEmail(7, "jane@example.com")],
        ),
        (
            Current(None, frozenset(), (PreviousSubscriber(7, frozenset({"customer"})),)),
            moved("churned"),
            [ChangeEmail(7, "jane@example.com"), AddTag("churned"), RemoveTag("customer")],
        ),
        # moved even when the customer should carry no tag: the list address stays current
        (
            Current(None, frozenset(), (PreviousSubscriber(7, frozenset()),)),
            moved(),
            [ChangeEmail(7, "jane@example.com")],
        ),
        # the new address has its own subscriber: tag it, untag the old one (by id)
        (
            Current(8, frozenset(), (PreviousSubscriber(7, frozenset({"customer", "vip"})),)),
            moved("customer"),
            [AddTag("customer"), RemovePreviousTag(7, "customer")],
        ),
        # the most recent earlier address is moved; any other one is untagged
        (
            Current(
                None,
                frozenset(),
                (
                    PreviousSubscriber(7, frozenset({"customer"})),
                    PreviousSubscriber(5, frozenset({"customer", "churned"})),
                ),
            ),
            moved("customer"),
            [
                ChangeEmail(7, "jane@example.com"),
                RemovePreviousTag(5, "churned"),
                RemovePreviousTag(5, "customer"),
            ],
        ),
    ],
)
def test_plan_after_an_email_change(have: Current, want: Desired, actions: list[Action]) -> None:
    assert plan(want, have) == actions


def test_email_change_action_names_carry_no_address() -> None:
    assert str(ChangeEmail(7, "jane@example.com")) == "change_email"
    assert str(RemovePreviousTag(7, "customer")) == "remove_previous_tag:customer"


# -- properties ----------------------------------------------------------------------------------

TAGS = ("customer", "churned", "vip", "newsletter", "Staff")


@st.composite
def cases(draw: st.DrawFn) -> tuple[Desired, Current]:
    managed = draw(st.frozensets(st.sampled_from(TAGS)))
    wanted = draw(st.frozensets(st.sampled_from(sorted(managed)))) if managed else frozenset()
    subscriber_id = draw(st.one_of(st.none(), st.integers(1, 10**9)))
    # a subscriber may carry any tags, managed or not; a missing one carries none
    held = draw(st.frozensets(st.sampled_from(TAGS))) if subscriber_id else frozenset()
    previous_ids = draw(st.lists(st.integers(-100, -1), max_size=3, unique=True))
    previous = tuple(
        PreviousSubscriber(i, draw(st.frozensets(st.sampled_from(TAGS)))) for i in previous_ids
    )
    name = draw(st.one_of(st.none(), st.text(min_size=1, max_size=5)))
    want = Desired("a@example.com", name, wanted, managed, ("b@example.com", "c@example.com"))
    return want, Current(subscriber_id, held, previous)


def apply(have: Current, actions: list[Action]) -> Current:
    """What Kit holds after the actions (tag calls need an existing subscriber, as in Kit)."""
    subscriber_id, tags = have.subscriber_id, set(have.tags)
    previous = {p.subscriber_id: set(p.tags) for p in have.previous}
    for action in actions:
        match action:
            case UpsertSubscriber():
                subscriber_id = subscriber_id or 1
            case ChangeEmail(subscriber_id=moving):
                assert subscriber_id is None, "Kit answers 422: the address is taken"
                subscriber_id, tags = moving, previous.pop(moving)
            case AddTag(tag=tag):
                assert subscriber_id is not None, "Kit answers 404 to tagging a non-subscriber"
                tags.add(tag)
            case RemoveTag(tag=tag):
                assert subscriber_id is not None
                tags.discard(tag)
            case RemovePreviousTag(subscriber_id=other, tag=tag):
                previous[other].discard(tag)
    kept = tuple(PreviousSubscriber(i, frozenset(t)) for i, t in previous.items())
    return Current(subscriber_id, frozenset(tags), kept)


@given(cases())
def test_applying_the_plan_yields_the_desired_tags(case: tuple[Desired, Current]) -> None:
    want, have = case
    after = apply(have, plan(want, have))
    assert after.tags & want.managed_tags == want.tags
    if after.subscriber_id == have.subscriber_id:
        assert after.tags - want.managed_tags == have.tags - want.managed_tags  # others' tags stay
    for other in after.previous:  # nothing managed is left at an earlier address
        assert not other.tags & want.managed_tags


@given(cases())
def test_the_plan_is_idempotent(case: tuple[Desired, Current]) -> None:
    want, have = case
    assert plan(want, apply(have, plan(want, have))) == []


@given(cases())
def test_the_plan_is_empty_exactly_when_already_in_sync(case: tuple[Desired, Current]) -> None:
    want, have = case
    previous_clean = all(not p.tags & want.managed_tags for p in have.previous)
    if have.subscriber_id is None:
        in_sync = not want.tags and not have.previous
    else:
        in_sync = have.tags & want.managed_tags == want.tags and previous_clean
    assert (plan(want, have) == []) == in_sync


@given(cases())
def test_upsert_only_for_a_missing_subscriber_and_first(case: tuple[Desired, Current]) -> None:
    want, have = case
    actions = plan(want, have)
    upserts = [i for i, a in enumerate(actions) if isinstance(a, UpsertSubscriber)]
    missing = have.subscriber_id is None and not have.previous
    assert upserts == ([0] if missing and want.tags else [])


@given(cases())
def test_the_most_recent_earlier_subscriber_is_moved_first_and_only_when_missing(
    case: tuple[Desired, Current],
) -> None:
    want, have = case
    actions = plan(want, have)
    moves = [(i, a) for i, a in enumerate(actions) if isinstance(a, ChangeEmail)]
    if have.subscriber_id is None and have.previous:
        assert moves == [(0, ChangeEmail(have.previous[0].subscriber_id, want.email))]
    else:
        assert moves == []
