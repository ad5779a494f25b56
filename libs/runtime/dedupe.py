"""Per-integration dedupe store: one record per customer, read once and written once per event.

The record (`<integration>_applied`, keyed by customer id) holds the last version applied, the key
of the desired state that version established, and the outcomes of the customer's most recent
events (the last `RECENT_EVENTS`). One read answers both "was this event processed?" and "is it
stale?", and one compare-and-set write records the outcome, so the version and the event id are
written together: no crash can separate them. Integrations never share or contend on records.

An event older than the recent list is still harmless when redelivered: the version it carries is
at or below the applied one, so it is stale. (The store is the hottest write path of every
worker: the earlier layout, a record per event id plus one per customer, cost two reads and two
writes per event, and a scheduled prune.)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from .clock import now

Document = dict[str, Any]

#: how many of a customer's latest event outcomes the record keeps
RECENT_EVENTS = 32
#: compare-and-set attempts before giving up (only concurrent replays of one customer contend)
CAS_ATTEMPTS = 20


@dataclass(frozen=True)
class Applied:
    """What the worker has applied for one customer, as last read."""

    version: int = 0
    desired_key: str | None = None
    #: event id -> outcome, for the customer's most recent events
    recent: dict[str, str] = field(default_factory=dict)
    revision: int = 0  # 0: no record yet

    def outcome_of(self, event_id: str) -> str | None:
        return self.recent.get(event_id)


def applied_from(doc: Document | None) -> Applied:
    if doc is None:
        return Applied()
    return Applied(
        int(doc.get("version", 0)),
        doc.get("desired_key"),
        {str(e["event_id"]): str(e["outcome"]) for e in doc.get("recent", [])},
        int(doc["revision"]),
    )


def recorded(
    seen: Applied,
    event_id: str,
    outcome: str,
    *,
    version: int | None,
    desired_key: str | None,
    forget_desired: bool,
) -> Document:
    """The record after this outcome (pure): the version only grows, and the key changes with
    it; a failure forgets the key, since what the provider holds is no longer known."""
    new_version, key = seen.version, seen.desired_key
    if version is not None and version > seen.version:
        new_version, key = version, desired_key
    if forget_desired:
        key = None
    # a list of small documents, in order (FerretDB 1.x stores no nested arrays)
    recent = [{"event_id": e, "outcome": o} for e, o in seen.recent.items() if e != event_id]
    recent.append({"event_id": event_id, "outcome": outcome})
    return {
        "version": new_version,
        "desired_key": key,
        "recent": recent[-RECENT_EVENTS:],
        "revision": seen.revision + 1,
        "at": now(),
    }


class DedupeStore:
    def __init__(self, db: AsyncDatabase[Document], integration: str) -> None:
        self.applied_records = db[f"{integration}_applied"]

    async def lookup(self, customer_id: str) -> Applied:
        return applied_from(await self.applied_records.find_one({"_id": customer_id}))

    async def record(
        self,
        customer_id: str,
        event_id: str,
        outcome: str,
        *,
        seen: Applied | None = None,
        version: int | None = None,
        desired_key: str | None = None,
        forget_desired: bool = False,
    ) -> None:
        """Record the event's outcome (and, with `version`, raise the applied version), as a
        compare-and-set on the record read as `seen`; a concurrent writer makes it read again."""
        current = seen if seen is not None else await self.lookup(customer_id)
        for _ in range(CAS_ATTEMPTS):
            doc = recorded(
                current,
                event_id,
                outcome,
                version=version,
                desired_key=desired_key,
                forget_desired=forget_desired,
            )
            if await self._write(customer_id, current.revision, doc):
                return
            current = await self.lookup(customer_id)
            await asyncio.sleep(0)
        raise RuntimeError(f"the dedupe record of {customer_id} kept changing under us")

    async def _write(self, customer_id: str, revision: int, doc: Document) -> bool:
        if revision == 0:
            try:
                await self.applied_records.insert_one({"_id": customer_id, **doc})
            except DuplicateKeyError:
                return False
            return True
        result = await self.applied_records.replace_one(
            {"_id": customer_id, "revision": revision}, doc
        )
        return result.matched_count == 1

    # The helpers below read or write one aspect; tests and tools use them.

    async def applied(self, customer_id: str) -> tuple[int, str | None]:
        found = await self.lookup(customer_id)
        return found.version, found.desired_key

    async def applied_version(self, customer_id: str) -> int:
        return (await self.lookup(customer_id)).version

    async def is_processed(self, customer_id: str, event_id: str) -> bool:
        return (await self.lookup(customer_id)).outcome_of(event_id) is not None
