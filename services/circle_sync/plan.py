"""Circle: what to do to make a member match the desired state. Pure.

Never ban or delete: a revoke only removes access groups, so the member keeps their profile,
posts and history, and a returning customer is simply granted again.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Desired:
    email: str
    name: str | None
    access_groups: frozenset[str]  # what the customer should hold now
    managed_groups: frozenset[str]  # every group the mapping can grant


@dataclass(frozen=True)
class Current:
    member_exists: bool
    access_groups: frozenset[str]  # of the managed groups, those the member is in


@dataclass(frozen=True)
class CreateMember:
    email: str
    name: str | None

    def __str__(self) -> str:
        return "create_member"


@dataclass(frozen=True)
class AddToAccessGroup:
    group: str

    def __str__(self) -> str:
        return f"add_access_group:{self.group}"


@dataclass(frozen=True)
class RemoveFromAccessGroup:
    group: str

    def __str__(self) -> str:
        return f"remove_access_group:{self.group}"


Action = CreateMember | AddToAccessGroup | RemoveFromAccessGroup


def plan(desired: Desired, current: Current) -> list[Action]:
    actions: list[Action] = []
    if not current.member_exists:
        if not desired.access_groups:
            return []  # nothing to grant: do not invite someone just to hold no access
        actions.append(CreateMember(desired.email, desired.name))
    held = current.access_groups if current.member_exists else frozenset()
    actions.extend(AddToAccessGroup(g) for g in sorted(desired.access_groups - held))
    removable = (held & desired.managed_groups) - desired.access_groups
    actions.extend(RemoveFromAccessGroup(g) for g in sorted(removable))
    return actions
