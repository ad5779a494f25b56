from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.convertkit_sync.plan import (
    Action,
    AddTag,
    Current,
    Desired,
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


# -- properties ----------------------------------------------------------------------------------

TAGS = ("customer", "churned", "vip", "newsletter", "Staff")


@st.composite
def cases(draw: st.DrawFn) -> tuple[Desired, Current]:
    managed = draw(st.frozensets(st.sampled_from(TAGS)))
    wanted = draw(st.frozensets(st.sampled_from(sorted(managed)))) if managed else frozenset()
    subscriber_id = draw(st.one_of(st.none(), st.integers(1, 10**9)))
    # a subscriber may carry any tags, managed or not; a missing one carries none
    held = draw(st.frozensets(st.sampled_from(TAGS))) if subscriber_id else frozenset()
    name = draw(st.one_of(st.none(), st.text(min_size=1, max_size=5)))
    return Desired("a@example.com", name, wanted, managed), Current(subscriber_id, held)


def apply(have: Current, actions: list[Action]) -> Current:
    """What Kit holds after the actions (tag calls need an existing subscriber, as in Kit)."""
    subscriber_id, tags = have.subscriber_id, set(have.tags)
    for action in actions:
        match action:
            case UpsertSubscriber():
                subscriber_id = subscriber_id or 1
            case AddTag(tag=tag):
                assert subscriber_id is not None, "Kit answers 404 to tagging a non-subscriber"
                tags.add(tag)
            case RemoveTag(tag=tag):
                assert subscriber_id is not None
                tags.discard(tag)
    return Current(subscriber_id, frozenset(tags))


@given(cases())
def test_applying_the_plan_yields_the_desired_tags(case: tuple[Desired, Current]) -> None:
    want, have = case
    after = apply(have, plan(want, have))
    assert after.tags & want.managed_tags == want.tags
    assert after.tags - want.managed_tags == have.tags - want.managed_tags  # others' tags stay


@given(cases())
def test_the_plan_is_idempotent(case: tuple[Desired, Current]) -> None:
    want, have = case
    assert plan(want, apply(have, plan(want, have))) == []


@given(cases())
def test_the_plan_is_empty_exactly_when_already_in_sync(case: tuple[Desired, Current]) -> None:
    want, have = case
    in_sync = have.tags & want.managed_tags == want.tags and (
        have.subscriber_id is not None or not want.tags
    )
    assert (plan(want, have) == []) == in_sync


@given(cases())
def test_upsert_only_for_a_missing_subscriber_and_first(case: tuple[Desired, Current]) -> None:
    want, have = case
    actions = plan(want, have)
    upserts = [i for i, a in enumerate(actions) if isinstance(a, UpsertSubscriber)]
    assert upserts == ([0] if have.subscriber_id is None and want.tags else [])
