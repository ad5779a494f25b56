"""Per-integration dedupe record: one per customer, read once and written once per event.

The record (`<integration>_applied`, keyed by customer id) holds the last version applied, the key
of the desired state that version established, and the outcomes of the customer's most recent
events (the last `RECENT_EVENTS`). One read answers both "was this event processed?" and "is it
stale?", and one compare-and-set write records the outcome, so the version and the event id are
written together: no crash can separate them. Integrations never share or contend on records.

An event older than the recent list is still harmless when redelivered: the version it carries is
at or below the applied one, so it is stale. (The store is the hottest write path of every
worker: the earlier layout, a record per event id plus one per customer, cost two reads and two
writes per event, and a scheduled prune.)

The record is an aggregate like any other: `DedupeRecords` is its port, written only through
`update(id, change)`, the repository's compare-and-set (`repository.py`). The one thing it adds is
`seen`: the worker has read the record already (to decide), so the first attempt writes from that
read instead of reading again, and only a lost write costs a second read.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from .clock import now
from .memory_repository import InMemoryRepository
from .repository import Change, MongoRepository, Repository, Snapshot

Document = dict[str, Any]

#: how many of a customer's latest event outcomes the record keeps
RECENT_EVENTS = 32


@dataclass(frozen=True)
class Applied:
    """What the worker has applied for one customer, as last read."""

    version: int = 0
    desired_key: str | None = None
    #: event id -> outcome, for the customer's most recent events
    recent: dict[str, str] = field(default_factory=dict)
    revision: int = 0  # 0: no record yet; the store keeps it (the compare of the compare-and-set)
    #: what the worker's writes established in the provider (`ledger.py`); {}: nothing known
    ledger: dict[str, Any] = field(default_factory=dict)
    #: when the record was last written (None: never, or not read back from a store)
    at: datetime | None = field(default=None, compare=False)
    #: a step began writing to the provider and has not recorded what it did (it was killed,
    #: the store went away, or it failed with an answer it never got): the ledger and the
    #: desired key may be behind the provider, so the next step reads the provider first
    unsettled: bool = False

    def outcome_of(self, event_id: str) -> str | None:
        return self.recent.get(event_id)

    @property
    def last_event(self) -> str | None:
        return next(reversed(self.recent), None)


class AppliedCodec:
    """The stored shape: version, desired_key, recent (a list of {event_id, outcome}: FerretDB
    1.x stores no nested arrays), revision, at, and the ledger as a JSON string (its keys may be
    email addresses, which hold dots, and its shape is the integration's own)."""

    def to_document(self, value: Applied) -> Document:
        recent = [{"event_id": e, "outcome": o} for e, o in value.recent.items()]
        return {
            "version": value.version,
            "desired_key": value.desired_key,
            "recent": recent,
            "ledger": json.dumps(value.ledger, sort_keys=True) if value.ledger else None,
            "at": now(),
            "unsettled": value.unsettled,
        }

    def from_document(self, document: Document) -> Applied:
        return Applied(
            int(document.get("version", 0)),
            document.get("desired_key"),
            {str(e["event_id"]): str(e["outcome"]) for e in document.get("recent", [])},
            int(document.get("revision", 0)),
            json.loads(document["ledger"]) if document.get("ledger") else {},
            document.get("at"),
            unsettled=bool(document.get("unsettled", False)),
        )


def recorded(
    seen: Applied,
    event_id: str,
    outcome: str,
    *,
    version: int | None,
    desired_key: str | None,
    forget_desired: bool,
    ledger: dict[str, Any] | None = None,
    settles: bool = False,
) -> Applied:
    """The record after this outcome (pure): the version only grows, and the key changes with
    it; a failure forgets the key, since what the provider holds is no longer known. `ledger`,
    when given, replaces the ledger (what the step's confirmed writes established). Only a
    step that synced `settles` an unsettled record; any other outcome leaves it as it was."""
    new_version, key = seen.version, seen.desired_key
    if version is not None and version > seen.version:
        new_version, key = version, desired_key
    if forget_desired:
        key = None
    recent = {e: o for e, o in seen.recent.items() if e != event_id}
    recent[event_id] = outcome  # last: the order is the order of the events
    kept = dict(list(recent.items())[-RECENT_EVENTS:])
    # a new revision, so the record is always written (its `at` says when it was last touched)
    book = seen.ledger if ledger is None else ledger
    unsettled = seen.unsettled and not settles
    return Applied(new_version, key, kept, seen.revision + 1, book, unsettled=unsettled)


def record(
    event_id: str,
    outcome: str,
    *,
    version: int | None = None,
    desired_key: str | None = None,
    forget_desired: bool = False,
    ledger: dict[str, Any] | None = None,
    settles: bool = False,
) -> Change[Applied]:
    """The change that records an event's outcome (and, with `version`, raises the applied one)."""

    def change(current: Applied | None) -> Applied:
        return recorded(
            current or Applied(),
            event_id,
            outcome,
            version=version,
            desired_key=desired_key,
            forget_desired=forget_desired,
            ledger=ledger,
            settles=settles,
        )

    return change


def unsettle(current: Applied | None) -> Applied:
    """The change written before a step's first provider write (pure): the record is unsettled
    until the step records what it did, and the desired key is forgotten meanwhile. Written
    first, so a step killed between its calls and its record leaves the mark behind."""
    seen = current or Applied()
    return dataclasses.replace(seen, unsettled=True, desired_key=None, revision=seen.revision + 1)


#: the worker's port to its dedupe records: the repository's (`update` from the worker's own
#: read, handed in as `as_read(customer_id, seen)`, costs one write and no second read)
DedupeRecords = Repository[Applied]


async def lookup(records: DedupeRecords, customer_id: str) -> Applied:
    """The customer's record, or an empty one (revision 0) if there is none yet."""
    found = await records.get(customer_id)
    return found if found is not None else Applied()


class MongoDedupe(MongoRepository[Applied]):
    def __init__(self, db: AsyncDatabase[Document], integration: str) -> None:
        super().__init__(db[f"{integration}_applied"], AppliedCodec())


class InMemoryDedupe(InMemoryRepository[Applied]):
    def __init__(self) -> None:
        super().__init__(AppliedCodec())


def as_read(customer_id: str, seen: Applied) -> Snapshot[Applied]:
    """The worker's read as the snapshot its write compares against: on FerretDB each round
    trip counts (the soak's bottleneck), so an event costs one read and one write; only if
    another writer got there first does the repository read again and redo the change. An empty
    record (revision 0) means there is none yet."""
    return Snapshot({customer_id: (seen, seen.revision)} if seen.revision else {})
