from __future__ import annotations

import pytest

from services.circle_sync.plan import (
    AddToAccessGroup,
    CreateMember,
    Current,
    Desired,
    RemoveFromAccessGroup,
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
