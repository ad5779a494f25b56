"""The webhook event aggregate's port: every event received (which doubles as the outbox: the
message to publish is written into its record), and beside each one not yet published a small
marker, the backlog the relay scans (never the whole history: on FerretDB/SQLite any query but
one by `_id` scans the collection).

An event goes `received` (stored before the 2xx) → `applied` (the customer moved, the message
is in `outbox`, Kafka did not take it yet) → `published`. `MongoEventLog` (event_log_mongo.py)
is the PyMongo adapter, `InMemoryEventLog` the fake.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from libs.runtime.clock import now

Document = dict[str, Any]
#: a `CustomerEvent` dumped in JSON mode; records written before hold its JSON text instead
Outbox = dict[str, Any]

RECEIVED, APPLIED, PUBLISHED = "received", "applied", "published"


@dataclass(frozen=True)
class Finished:
    """One event's outcome: which customer it moved (None: none found), how, and the message
    due (None: nothing changed downstream) and whether Kafka took it already."""

    event_id: str
    customer_id: str | None
    outcome: str
    outbox: Outbox | None
    published: bool


def event_document(event_id: str, event_type: str, created: int, raw: str) -> Document:
    """The raw-event record, as the intake inserts it."""
    return {
        "_id": event_id,
        "provider": "stripe",
        "type": event_type,
        "created": created,
        "raw": raw,  # as received: Stripe keys may hold '.', which FerretDB refuses
        "status": RECEIVED,
        "received_at": now(),
        "deliveries": 1,
    }


def internal_document(event_id: str, event_type: str, customer_id: str, outbox: Outbox) -> Document:
    """The record of a change Switchboard made itself (no webhook behind it)."""
    return {
        "_id": event_id,
        "provider": "switchboard",
        "type": event_type,
        "status": APPLIED,
        "customer_id": customer_id,
        "outcome": "applied",
        "outbox": outbox,
        "received_at": now(),
    }


def finished_fields(f: Finished, applied_at: datetime, t: datetime) -> Document:
    """What recording an outcome sets on the event (only on one still `received`)."""
    fields: Document = {
        "customer_id": f.customer_id,
        "outcome": f.outcome,
        "applied_at": applied_at,
    }
    if f.outbox is not None:
        fields["outbox"] = f.outbox
    if f.outbox is None or f.published:
        fields.update(status=PUBLISHED, published_at=t)
    else:
        fields["status"] = APPLIED  # Kafka refused it: the relay publishes it later
    return fields


def outbox_message(outbox: Outbox | str) -> Outbox:
    """The message of an event record, stored as a document or (older records) as JSON text."""
    return dict(json.loads(outbox)) if isinstance(outbox, str) else outbox


class EventLog(Protocol):
    async def create_indexes(self) -> None: ...

    async def add(self, documents: Sequence[Document]) -> list[bool | Exception]:
        """Insert each event once, its marker first; per document: True if new, False if it
        was there (its delivery is counted), or the error that kept it out."""
        ...

    async def add_internal(self, document: Document) -> bool:
        """Insert a Switchboard-made event, already `applied`; False if it was there."""
        ...

    async def get(self, event_id: str) -> Document | None: ...

    async def finish(self, finished: Sequence[Finished], applied_at: datetime) -> None:
        """Record many events' outcomes in one write. `applied_at` is when the customer was
        written, taken before the publish (a worker's outcome can come back before this write:
        the console orders by these times)."""
        ...

    async def mark_published(self, event_ids: Sequence[str]) -> None: ...

    async def claim_unfinished(
        self, older_than: timedelta, lease: timedelta, limit: int
    ) -> tuple[list[Document], list[str]]:
        """Lease up to `limit` unfinished events (oldest first) so two relays do not both work
        on one; return their records, and the markers left by events missing or published."""
        ...

    async def clear_unfinished(self, event_ids: Sequence[str]) -> None: ...

    async def backfill_unfinished(self) -> int:
        """Markers for unfinished events recorded before markers were kept (once a start)."""
        ...

    async def backlog(self) -> tuple[int, datetime | None]:
        """Events accepted but not yet published, and when the oldest arrived."""
        ...


class InMemoryEventLog:
    """The fake: events and markers in dicts, leases as in the store."""

    def __init__(self) -> None:
        self.events: dict[str, Document] = {}
        self.unfinished: dict[str, Document] = {}

    async def create_indexes(self) -> None:
        return None

    async def add(self, documents: Sequence[Document]) -> list[bool | Exception]:
        added: list[bool | Exception] = []
        for doc in documents:
            self.unfinished.setdefault(doc["_id"], {"received_at": doc["received_at"]})
            existing = self.events.get(doc["_id"])
            if existing is None:
                self.events[doc["_id"]] = dict(doc)
            else:
                existing["deliveries"] = existing.get("deliveries", 1) + 1
            added.append(existing is None)
        return added

    async def add_internal(self, document: Document) -> bool:
        self.unfinished.setdefault(document["_id"], {"received_at": now()})
        if document["_id"] in self.events:
            return False
        self.events[document["_id"]] = dict(document)
        return True

    async def get(self, event_id: str) -> Document | None:
        found = self.events.get(event_id)
        return dict(found) if found is not None else None

    async def finish(self, finished: Sequence[Finished], applied_at: datetime) -> None:
        t = now()
        for f in finished:
            doc = self.events.get(f.event_id)
            if doc is not None and doc["status"] == RECEIVED:
                doc.update(finished_fields(f, applied_at, t))
        await self.clear_unfinished(
            [f.event_id for f in finished if f.outbox is None or f.published]
        )

    async def mark_published(self, event_ids: Sequence[str]) -> None:
        for event_id in event_ids:
            doc = self.events.get(event_id)
            if doc is not None and doc["status"] == APPLIED:
                doc.update(status=PUBLISHED, published_at=now())
        await self.clear_unfinished(event_ids)

    async def claim_unfinished(
        self, older_than: timedelta, lease: timedelta, limit: int
    ) -> tuple[list[Document], list[str]]:
        t = now()
        free = [
            i
            for i, m in sorted(self.unfinished.items(), key=lambda im: im[1]["received_at"])
            if m["received_at"] < t - older_than and (m.get("lease_until") or t) <= t
        ][:limit]
        for i in free:
            self.unfinished[i]["lease_until"] = t + lease
        found = {i: self.events[i] for i in free if i in self.events}
        orphans = [i for i in free if found.get(i, {}).get("status", PUBLISHED) == PUBLISHED]
        return [dict(found[i]) for i in free if i not in orphans], orphans

    async def clear_unfinished(self, event_ids: Sequence[str]) -> None:
        for event_id in event_ids:
            self.unfinished.pop(event_id, None)

    async def backfill_unfinished(self) -> int:
        left = [d for d in self.events.values() if d["status"] in (RECEIVED, APPLIED)]
        for doc in left:
            self.unfinished.setdefault(doc["_id"], {"received_at": doc.get("received_at") or now()})
        return len(left)

    async def backlog(self) -> tuple[int, datetime | None]:
        times = [m["received_at"] for m in self.unfinished.values()]
        return len(times), min(times, default=None)
