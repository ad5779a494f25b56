"""Kit (ConvertKit) records: subscribers, tags and who carries which tag.

Kit's list and filter endpoints (list subscribers, by email too; a tag's subscribers) read an
asynchronous replica that lags writes (about 30 s at the median, up to about 5 min); lookups by id
and write answers are fresh. So every subscriber version and every tagging goes to a lagged view
(`sandbox/replica.py`) as well, and the lists (`listed`, `tag_members`) read that.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sandbox.records import WALL_CLOCK, Clock, EmailIndex, Missing, email_key, id_counter, iso
from sandbox.replica import LaggedView

STATES = ("active", "inactive", "bounced", "complained", "cancelled")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def valid_email(email: str) -> bool:
    return bool(_EMAIL.match(email))


class Taken(Exception):
    """Another subscriber already has this email address."""


@dataclass
class Subscriber:
    id: int
    email_address: str
    first_name: str | None
    state: str
    created_at: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Tag:
    id: int
    name: str
    created_at: str
    # subscriber id -> tagged_at
    tagged: dict[int, str] = field(default_factory=dict)


class KitStore:
    def __init__(
        self, clock: Clock = WALL_CLOCK, list_lag_s: float = 0.0, seeded_tags: Sequence[str] = ()
    ) -> None:
        self._clock = clock
        self._subscriber_ids = id_counter(3_000_001)
        self._tag_ids = id_counter(40_001)
        self.subscribers: dict[int, Subscriber] = {}
        self.by_email = EmailIndex()
        self.tags: dict[int, Tag] = {}
        # The replica the lists read: subscriber versions, and (tag id, subscriber id) -> tagged_at
        self.replica = LaggedView[int, Subscriber](list_lag_s, clock)
        self.replica_tags = LaggedView[tuple[int, int], str](list_lag_s, clock)
        self._seeded = {name.casefold() for name in seeded_tags}
        for name in seeded_tags:
            self.create_tag(name)

    @property
    def list_lag_s(self) -> float:
        return self.replica.lag_s

    @list_lag_s.setter
    def list_lag_s(self, value: float) -> None:
        self.replica.lag_s = self.replica_tags.lag_s = value

    def reset(self) -> None:
        """Forget every record; the seeded tags stay (as the access groups do in Circle)."""
        self.subscribers.clear()
        self.by_email.clear()
        self.tags = {i: t for i, t in self.tags.items() if t.name.casefold() in self._seeded}
        for tag in self.tags.values():
            tag.tagged.clear()
        self.replica.clear()
        self.replica_tags.clear()

    def _replicate(self, subscriber: Subscriber) -> None:
        # A copy: the fresh record changes in place, the replica's version must not.
        self.replica.write(subscriber.id, replace(subscriber, fields=dict(subscriber.fields)))

    # -- subscribers -----------------------------------------------------------------------
    def find(self, email: str) -> Subscriber | None:
        subscriber_id = self.by_email.get(email)
        return self.subscribers.get(subscriber_id) if isinstance(subscriber_id, int) else None

    def get(self, subscriber_id: int | None) -> Subscriber:
        found = self.subscribers.get(subscriber_id) if subscriber_id is not None else None
        if found is None:
            raise Missing("subscriber")
        return found

    def upsert(
        self, email: str, first_name: str | None, state: str, fields: dict[str, Any]
    ) -> tuple[Subscriber, bool]:
        """Create, or return the existing subscriber; True if created.

        An existing subscriber only gets `first_name` updated: the state never changes this way,
        so re-posting a cancelled subscriber does not resubscribe them.
        """
        existing = self.find(email)
        if existing is not None:
            if first_name is not None and first_name != existing.first_name:
                existing.first_name = first_name
                self._replicate(existing)
            return existing, False
        subscriber = Subscriber(
            id=next(self._subscriber_ids),
            email_address=email.strip(),
            first_name=first_name,
            state=state,
            created_at=iso(self._clock()),
            fields=dict(fields),
        )
        self.subscribers[subscriber.id] = subscriber
        self.by_email.put(subscriber.email_address, subscriber.id)
        self._replicate(subscriber)
        return subscriber, True

    def update(
        self,
        subscriber_id: int | None,
        *,
        email: str | None = None,
        first_name: str | None = None,
        fields: dict[str, Any] | None = None,
    ) -> Subscriber:
        """`PUT /v4/subscribers/{id}`: raises `Missing` for an unknown id and `Taken` when another
        subscriber has the address. Setting a subscriber's own address again is no conflict."""
        subscriber = self.get(subscriber_id)
        if email is not None:
            holder = self.find(email)
            if holder is not None and holder.id != subscriber.id:
                raise Taken(email)
            self.by_email.drop(subscriber.email_address, subscriber.id)
            subscriber.email_address = email.strip()
            self.by_email.put(subscriber.email_address, subscriber.id)
        if first_name is not None:
            subscriber.first_name = first_name
        if fields:
            subscriber.fields.update(fields)
        self._replicate(subscriber)
        return subscriber

    def unsubscribe(self, subscriber_id: int | None) -> None:
        # The record and its tags stay; only the state changes.
        subscriber = self.get(subscriber_id)
        subscriber.state = "cancelled"
        self._replicate(subscriber)

    def listed(self, status: str, email: str | None = None) -> list[Subscriber]:
        """The subscribers the list endpoint shows (the replica's, in id order)."""
        if not self.replica.lagging:
            # No lag: the fresh records are the same answer, found by the index, not a scan.
            if email:
                found = self.find(email)
                subscribers = [found] if found is not None else []
            else:
                subscribers = list(self.subscribers.values())
        else:
            # A scan, as only a lag makes it: the index knows the fresh addresses, not the old.
            subscribers = sorted(self.replica.as_of().values(), key=lambda s: s.id)
            if email:
                wanted = email_key(email)
                subscribers = [s for s in subscribers if email_key(s.email_address) == wanted]
        if status != "all":
            subscribers = [s for s in subscribers if s.state == status]
        return subscribers

    def tag_members(self, tag: Tag, status: str) -> list[tuple[Subscriber, str]]:
        """A tag's subscribers with their `tagged_at`, as the replica shows them, in id order."""
        if not self.replica.lagging:
            tagged = tag.tagged
        else:
            tagged = {s: at for (t, s), at in self.replica_tags.items() if t == tag.id}
        return [(s, tagged[s.id]) for s in self.listed(status) if s.id in tagged]

    # -- tags ------------------------------------------------------------------------------
    def create_tag(self, name: str) -> tuple[Tag, bool]:
        """Idempotent on the name, case-insensitively; True if created."""
        existing = next((t for t in self.tags.values() if t.name.lower() == name.lower()), None)
        if existing is not None:
            return existing, False
        tag = Tag(next(self._tag_ids), name, iso(self._clock()))
        self.tags[tag.id] = tag
        return tag, True

    def tag(self, tag_id: int | None) -> Tag:
        found = self.tags.get(tag_id) if tag_id is not None else None
        if found is None:
            raise Missing("tag")
        return found

    def subscriber_for(self, email: str | None, subscriber_id: int | None) -> Subscriber:
        if subscriber_id is not None:
            return self.get(subscriber_id)
        found = self.find(email or "")
        if found is None:
            raise Missing("subscriber")
        return found

    def apply_tag(
        self, tag_id: int | None, *, email: str | None = None, subscriber_id: int | None = None
    ) -> tuple[Subscriber, str, bool]:
        """Tag an existing subscriber; returns (subscriber, tagged_at, newly tagged)."""
        tag = self.tag(tag_id)
        subscriber = self.subscriber_for(email, subscriber_id)
        if subscriber.id in tag.tagged:
            return subscriber, tag.tagged[subscriber.id], False
        tag.tagged[subscriber.id] = iso(self._clock())
        self.replica_tags.write((tag.id, subscriber.id), tag.tagged[subscriber.id])
        return subscriber, tag.tagged[subscriber.id], True

    def remove_tag(
        self, tag_id: int | None, *, email: str | None = None, subscriber_id: int | None = None
    ) -> None:
        tag = self.tag(tag_id)
        subscriber = self.subscriber_for(email, subscriber_id)
        # Kit does not document removing a tag the subscriber lacks; answered as "no match".
        if tag.tagged.pop(subscriber.id, None) is None:
            raise Missing("tagging")
        self.replica_tags.write((tag.id, subscriber.id), None)

    def tags_of(self, subscriber: Subscriber) -> list[str]:
        return [t.name for t in self.tags.values() if subscriber.id in t.tagged]

    # -- JSON ------------------------------------------------------------------------------
    @staticmethod
    def subscriber_json(subscriber: Subscriber, **extra: Any) -> dict[str, Any]:
        return {
            "id": subscriber.id,
            "first_name": subscriber.first_name,
            "email_address": subscriber.email_address,
            "state": subscriber.state,
            "created_at": subscriber.created_at,
            **extra,
            "fields": dict(subscriber.fields),
        }

    @staticmethod
    def tag_json(tag: Tag) -> dict[str, Any]:
        return {"id": tag.id, "name": tag.name, "created_at": tag.created_at}

    def snapshot(self) -> dict[str, Any]:
        return {
            "subscribers": [
                {
                    "id": s.id,
                    "email_address": s.email_address,
                    "first_name": s.first_name,
                    "state": s.state,
                    "tags": self.tags_of(s),
                }
                for s in self.subscribers.values()
            ],
            "tags": [
                {"id": t.id, "name": t.name, "subscribers": len(t.tagged)}
                for t in self.tags.values()
            ],
        }
