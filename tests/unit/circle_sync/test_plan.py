from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.circle_sync.plan import (
    Action,
    AddToAccessGroup,
    CreateMember,
    Current,
    Desired,
    PreviousMember,
    RemoveFromAccessGroup,
    RemoveFromPreviousMember,
    plan,
)

MANAGED = frozenset({"Members", "VIP"})


def desired(*groups: str) -> Desired:
    return Desired("jane@example.com", "Jane", frozenset(groups), MANAGED)


def current(exists: bool, *groups: str) -> Current:
    return Current(member_exists=exists, access_groups=frozenset(groups))


@pytest.mark.parametrize(
    ("want", "have", "actions"),
    [
        (
            desired("Members"),
            current(False),
            [CreateMember("jane@example.com", "Jane"), AddToAccessGroup("Members")],
        ),
        (desired("Members"), current(True), [AddToAccessGroup("Members")]),
        (desired("Members"), current(True, "Members"), []),
        (desired(), current(True, "Members"), [RemoveFromAccessGroup("Members")]),
        (desired(), current(False), []),
        (
            desired("VIP"),
            current(True, "Members"),
            [AddToAccessGroup("VIP"), RemoveFromAccessGroup("Members")],
        ),
    ],
)
def test_plan(want: Desired, have: Current, actions: list[object]) -> None:
    assert plan(want, have) == actions


def test_a_group_the_mapping_does_not_manage_is_left_alone() -> None:
    assert plan(desired(), current(True, "Staff")) == []


def test_action_names_are_stable() -> None:
    assert [str(a) for a in plan(desired("Members"), current(False))] == [
        "create_member",
        "add_access_group:Members",
    ]


# -- an email change -------------------------------------------------------------------------------

OLD = "jane.old@example.com"


def moved(*groups: str) -> Desired:
    return Desired("jane@example.com", "Jane", frozenset(groups), MANAGED, (OLD,))


def with_previous(exists: bool, *old_groups: str, held: tuple[str, ...] = ()) -> Current:
    previous = (PreviousMember(OLD, frozenset(old_groups)),)
    return Current(exists, frozenset(held), previous)


@pytest.mark.parametrize(
    ("want", "have", "actions"),
    [
        # the move: grant at the new address first, then revoke at the old one
        (
            moved("Members"),
            with_previous(False, "Members"),
            [
                CreateMember("jane@example.com", "Jane"),
                AddToAccessGroup("Members"),
                RemoveFromPreviousMember(OLD, "Members"),
            ],
        ),
        # a retry after the grant: only the revoke is left
        (
            moved("Members"),
            with_previous(True, "Members", held=("Members",)),
            [RemoveFromPreviousMember(OLD, "Members")],
        ),
        # done: the old member holds nothing managed (other groups are not ours)
        (moved("Members"), with_previous(True, "Staff", held=("Members",)), []),
        # access ended after the move: nothing to create, the old address still loses access
        (
            moved(),
            with_previous(False, "Members", "VIP"),
            [
                RemoveFromPreviousMember(OLD, "Members"),
                RemoveFromPreviousMember(OLD, "VIP"),
            ],
        ),
        (moved(), with_previous(False), []),
    ],
)
def test_plan_after_an_email_change(want: Desired, have: Current, actions: list[Action]) -> None:
    assert plan(want, have) == actions


def test_the_previous_address_stays_out_of_the_action_name() -> None:
    assert str(RemoveFromPreviousMember(OLD, "Members")) == "remove_previous_access_group:Members"


# -- properties ----------------------------------------------------------------------------------

GROUPS = ("Members", "VIP", "Alumni", "Staff")
PREVIOUS = ("a@example.com", "b@example.com")


@st.composite
def cases(draw: st.DrawFn) -> tuple[Desired, Current]:
    managed = draw(st.frozensets(st.sampled_from(GROUPS)))
    wanted = draw(st.frozensets(st.sampled_from(sorted(managed)))) if managed else frozenset()
    exists = draw(st.booleans())
    held = draw(st.frozensets(st.sampled_from(GROUPS))) if exists else frozenset()
    previous = tuple(
        PreviousMember(email, draw(st.frozensets(st.sampled_from(GROUPS))))
        for email in PREVIOUS
        if draw(st.booleans())
    )
    want = Desired("jane@example.com", None, wanted, managed, PREVIOUS)
    return want, Current(exists, held, previous)


def apply(have: Current, actions: list[Action]) -> Current:
    """What Circle holds after the actions (group calls need an existing member, as in Circle)."""
    exists, groups = have.member_exists, set(have.access_groups)
    old = {p.email: set(p.access_groups) for p in have.previous_members}
    for action in actions:
        match action:
            case CreateMember():
                exists = True
            case AddToAccessGroup(group=group):
                assert exists, "Circle answers 404 to granting a non-member"
                groups.add(group)
            case RemoveFromAccessGroup(group=group):
                assert exists
                groups.discard(group)
            case RemoveFromPreviousMember(email=email, group=group):
                old[email].discard(group)
    previous = tuple(PreviousMember(e, frozenset(g)) for e, g in old.items())
    return Current(exists, frozenset(groups), previous)


@given(cases())
def test_applying_the_plan_yields_the_desired_groups_and_nothing_on_old_addresses(
    case: tuple[Desired, Current],
) -> None:
    want, have = case
    after = apply(have, plan(want, have))
    if after.member_exists:
        assert after.access_groups & want.managed_groups == want.access_groups
        assert after.access_groups - want.managed_groups == have.access_groups - want.managed_groups
    else:
        assert not want.access_groups
    for before, now in zip(have.previous_members, after.previous_members, strict=True):
        assert not now.access_groups & want.managed_groups  # no access left on an old address
        assert now.access_groups - want.managed_groups == before.access_groups - want.managed_groups


@given(cases())
def test_the_plan_is_idempotent(case: tuple[Desired, Current]) -> None:
    want, have = case
    assert plan(want, apply(have, plan(want, have))) == []


@given(cases())
def test_grants_come_before_revokes_on_old_addresses(case: tuple[Desired, Current]) -> None:
    actions = plan(*case)
    kinds = [isinstance(a, RemoveFromPreviousMember) for a in actions]
    assert kinds == sorted(kinds)  # every previous-address revoke comes last
