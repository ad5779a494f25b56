"""Circle community records: members, access groups and who is in which group."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sandbox.records import WALL_CLOCK, Clock, EmailIndex, Missing, id_counter, iso

COMMUNITY_ID = 1


@dataclass
class Member:
    id: int
    user_id: int
    email: str
    name: str
    created_at: str
    active: bool
    accepted_invitation: str | None
    updated_at: str = ""


@dataclass
class AccessGroup:
    id: int
    name: str
    description: str
    created_at: str
    status: str = "active"
    # member id -> (membership id, added at)
    members: dict[int, tuple[int, str]] = field(default_factory=dict)


class CircleStore:
    def __init__(self, seed_groups: list[str], clock: Clock = WALL_CLOCK) -> None:
        self._clock = clock
        self._seed_groups = seed_groups
        self._member_ids = id_counter(100_001)
        self._user_ids = id_counter(700_001)
        self._group_ids = id_counter(5_001)
        self._membership_ids = id_counter(900_001)
        self.members: dict[int, Member] = {}
        self.by_email = EmailIndex()
        self.groups: dict[int, AccessGroup] = {}
        self.banned: list[str] = []
        self.deleted: list[str] = []
        self.reset()

    def reset(self) -> None:
        self.members.clear()
        self.by_email.clear()
        self.groups.clear()
        self.banned.clear()
        self.deleted.clear()
        for name in self._seed_groups:
            self.create_group(name)

    # -- members ---------------------------------------------------------------------------
    def find_member(self, email: str) -> Member | None:
        member_id = self.by_email.get(email)
        return self.members.get(member_id) if isinstance(member_id, int) else None

    def member(self, member_id: int | None) -> Member:
        found = self.members.get(member_id) if member_id is not None else None
        if found is None:
            raise Missing("user")
        return found

    def create_member(self, email: str, name: str | None, skip_invitation: bool) -> Member:
        now = iso(self._clock())
        member = Member(
            id=next(self._member_ids),
            user_id=next(self._user_ids),
            email=email.strip(),
            name=name or "",
            created_at=now,
            updated_at=now,
            # Without skip_invitation the person is only invited until they accept.
            active=skip_invitation,
            accepted_invitation=now if skip_invitation else None,
        )
        self.members[member.id] = member
        self.by_email.put(member.email, member.id)
        return member

    def remove_member(self, member_id: int | None, *, how: str = "deactivated") -> Member:
        member = self.member(member_id)
        del self.members[member.id]
        self.by_email.drop(member.email, member.id)
        for group in self.groups.values():
            group.members.pop(member.id, None)
        if how == "banned":
            self.banned.append(member.email)
        elif how == "deleted":
            self.deleted.append(member.email)
        return member

    def member_groups(self, member: Member) -> list[AccessGroup]:
        return [g for g in self.groups.values() if member.id in g.members]

    # -- access groups ---------------------------------------------------------------------
    def create_group(self, name: str, description: str = "") -> AccessGroup:
        group = AccessGroup(next(self._group_ids), name, description, iso(self._clock()))
        self.groups[group.id] = group
        return group

    def group(self, group_id: int | None) -> AccessGroup:
        found = self.groups.get(group_id) if group_id is not None else None
        if found is None:
            raise Missing("access group")
        return found

    def find_groups(self, name: str | None, status: str) -> list[AccessGroup]:
        groups = list(self.groups.values())
        if status != "all":
            groups = [g for g in groups if g.status == status]
        if name:
            groups = [g for g in groups if name.lower() in g.name.lower()]
        return groups

    def _group_and_member(self, group_id: int | None, email: str) -> tuple[AccessGroup, Member]:
        group = self.group(group_id)
        member = self.find_member(email)
        if member is None:
            raise Missing("user")
        return group, member

    def add_to_group(self, group_id: int | None, email: str) -> bool:
        """Add by email; True if newly added, False if the member was already in the group."""
        group, member = self._group_and_member(group_id, email)
        if member.id in group.members:
            return False
        group.members[member.id] = (next(self._membership_ids), iso(self._clock()))
        return True

    def remove_from_group(self, group_id: int | None, email: str) -> None:
        group, member = self._group_and_member(group_id, email)
        if group.members.pop(member.id, None) is None:
            raise Missing("access group community member")

    def membership(self, group_id: int | None, email: str) -> dict[str, Any]:
        group, member = self._group_and_member(group_id, email)
        if member.id not in group.members:
            raise Missing("access group community member")
        return self.membership_json(group, member.id)

    def memberships(self, group_id: int | None) -> list[dict[str, Any]]:
        """`GET access_groups/{id}/community_members`: the group's membership records."""
        group = self.group(group_id)
        return [self.membership_json(group, mid) for mid in group.members if mid in self.members]

    # -- JSON ------------------------------------------------------------------------------
    def member_json(self, member: Member) -> dict[str, Any]:
        public_uid = hashlib.sha256(str(member.id).encode()).hexdigest()[:8]
        first, _, last = member.name.partition(" ")
        return {
            "id": member.id,
            "user_id": member.user_id,
            "community_id": COMMUNITY_ID,
            "email": member.email,
            "name": member.name,
            "first_name": first or None,
            "last_name": last or None,
            "headline": None,
            "avatar_url": None,
            "public_uid": public_uid,
            "profile_url": f"https://community.sandbox.local/u/{public_uid}",
            "active": member.active,
            "accepted_invitation": member.accepted_invitation,
            "profile_confirmed_at": member.accepted_invitation,
            "last_seen_at": None,
            "member_tags": [],
            "posts_count": 0,
            "comments_count": 0,
            "created_at": member.created_at,
            "updated_at": member.updated_at,
        }

    @staticmethod
    def membership_json(group: AccessGroup, member_id: int) -> dict[str, Any]:
        """The spec's `access_group_community_member`: no email or name, only the member's id
        (`community_member_id`, the `id` of `GET community_members`); `id` is the membership's."""
        membership_id, added_at = group.members[member_id]
        return {
            "id": membership_id,
            "access_group_id": group.id,
            "community_member_id": member_id,
            "community_id": COMMUNITY_ID,
            "created_at": added_at,
            "updated_at": added_at,
        }

    def group_json(self, group: AccessGroup) -> dict[str, Any]:
        return {
            "id": group.id,
            "name": group.name,
            "description": group.description,
            "status": group.status,
            "community_id": COMMUNITY_ID,
            "community_members_count": len(group.members),
            "created_at": group.created_at,
            "updated_at": group.created_at,
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            "members": [
                {
                    "id": m.id,
                    "email": m.email,
                    "name": m.name,
                    "active": m.active,
                    "access_groups": [g.name for g in self.member_groups(m)],
                }
                for m in self.members.values()
            ],
            "access_groups": [
                {"id": g.id, "name": g.name, "members": len(g.members)}
                for g in self.groups.values()
            ],
            "banned": list(self.banned),
            "deleted": list(self.deleted),
        }
