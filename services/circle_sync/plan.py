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

from libs.runtime.plans import NamedAction, to_grant, to_revoke


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
class CreateMember(NamedAction):
    kind = "create_member"
    email: str
    name: str | None


@dataclass(frozen=True)
class AddToAccessGroup(NamedAction):
    kind, detail = "add_access_group", "group"
    group: str


@dataclass(frozen=True)
class RemoveFromAccessGroup(NamedAction):
    kind, detail = "remove_access_group", "group"
    group: str


@dataclass(frozen=True)
class RemoveFromPreviousMember(NamedAction):
    """Revoke a group from the member at an earlier address (the email stays out of the name)."""

    kind, detail = "remove_previous_access_group", "group"
    email: str
    group: str


Action = CreateMember | AddToAccessGroup | RemoveFromAccessGroup | RemoveFromPreviousMember


def plan(desired: Desired, current: Current) -> list[Action]:
    actions: list[Action] = []
    # Nothing to grant to a missing member: do not invite someone just to hold no access.
    if current.member_exists or desired.access_groups:
        if not current.member_exists:
            actions.append(CreateMember(desired.email, desired.name))
        held = current.access_groups if current.member_exists else frozenset()
        actions.extend(AddToAccessGroup(g) for g in to_grant(desired.access_groups, held))
        revoked = to_revoke(desired.access_groups, held, desired.managed_groups)
        actions.extend(RemoveFromAccessGroup(g) for g in revoked)
    for previous in current.previous_members:
        gone = to_revoke(frozenset(), previous.access_groups, desired.managed_groups)
        actions.extend(RemoveFromPreviousMember(previous.email, g) for g in gone)
    return actions
