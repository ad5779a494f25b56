"""Circle: what to do to make a member match the desired state. Pure.

Never ban or delete: a revoke only removes access groups, so the member keeps their profile,
posts and history, and a returning customer is simply granted again.

An email change: Circle's Admin API cannot change a member's email (`PUT community_members/{id}`
takes no `email`), so the move is a grant to the member at the new address (created if missing)
and a revoke of every managed group the member at an old address still holds. The grant comes
first, so a failure in between leaves the customer with access rather than without; a retry
finishes the revoke. Access never stays on an old address.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Desired:
    email: str
    name: str | None
    access_groups: frozenset[str]  # what the customer should hold now
    managed_groups: frozenset[str]  # every group the mapping can grant
    previous_emails: tuple[str, ...] = ()  # the customer's earlier addresses, most recent first


@dataclass(frozen=True)
class PreviousMember:
    """A member at one of the customer's earlier addresses."""

    email: str
    access_groups: frozenset[str]  # of the managed groups, those this member is in


@dataclass(frozen=True)
class Current:
    member_exists: bool
    access_groups: frozenset[str]  # of the managed groups, those the member is in
    previous_members: tuple[PreviousMember, ...] = ()  # members at earlier addresses, if any


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


@dataclass(frozen=True)
class RemoveFromPreviousMember:
    """Revoke a group from the member at an earlier address (the email stays out of the name)."""

    email: str
    group: str

    def __str__(self) -> str:
        return f"remove_previous_access_group:{self.group}"


Action = CreateMember | AddToAccessGroup | RemoveFromAccessGroup | RemoveFromPreviousMember


def plan(desired: Desired, current: Current) -> list[Action]:
    actions: list[Action] = []
    # Nothing to grant to a missing member: do not invite someone just to hold no access.
    if current.member_exists or desired.access_groups:
        if not current.member_exists:
            actions.append(CreateMember(desired.email, desired.name))
        held = current.access_groups if current.member_exists else frozenset()
        actions.extend(AddToAccessGroup(g) for g in sorted(desired.access_groups - held))
        removable = (held & desired.managed_groups) - desired.access_groups
        actions.extend(RemoveFromAccessGroup(g) for g in sorted(removable))
    for previous in current.previous_members:
        actions.extend(
            RemoveFromPreviousMember(previous.email, g)
            for g in sorted(previous.access_groups & desired.managed_groups)
        )
    return actions
