"""Support's per-customer timelines of sync outcomes (`support_timelines`), written in batches.

Every outcome of every worker lands here, so this is support's hottest write: a batch of outcomes
costs one read of all its customers' timelines and one bulk compare-and-set (in chunks, as
FerretDB needs), instead of a read and a write per outcome. A customer whose write lost the race
(rare: support runs several consumers, but one customer's outcomes share a partition) is redone
alone. Entries are keyed, so a redelivered outcome is appended once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo import InsertOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

Document = dict[str, Any]

#: statements per bulk write (FerretDB 1.x stalls on much larger ones; see ingest's store)
BULK_CHUNK = 40
CAS_ATTEMPTS = 20


class ConcurrentTimelineUpdate(Exception):
    """A timeline kept changing under us."""


def appended(entries: list[Document], new: Iterable[Document], limit: int) -> list[Document] | None:
    """The entries with `new` appended once each, trimmed to the newest `limit`; None if every
    new entry is there already (nothing to write)."""
    keys = {e.get("key") for e in entries}
    added = []
    for entry in new:
        if entry["key"] not in keys:
            keys.add(entry["key"])
            added.append(entry)
    return [*entries, *added][-limit:] if added else None


def grouped(items: Iterable[tuple[str, Document]]) -> dict[str, list[Document]]:
    """Entries by customer, each customer's in the order given."""
    out: dict[str, list[Document]] = {}
    for customer_id, entry in items:
        out.setdefault(customer_id, []).append(entry)
    return out


async def add_entries(
    timelines: AsyncCollection[Document], items: list[tuple[str, Document]], limit: int
) -> None:
    by_customer = grouped(items)
    found = timelines.find({"_id": {"$in": sorted(by_customer)}})
    docs = {doc["_id"]: doc async for doc in found}
    writes: list[tuple[str, InsertOne[Document] | UpdateOne]] = []
    for customer_id, new in by_customer.items():
        doc = docs.get(customer_id)
        entries = appended(list((doc or {}).get("entries", [])), new, limit)
        if entries is None:
            continue
        if doc is None:
            writes.append(
                (customer_id, InsertOne({"_id": customer_id, "revision": 1, "entries": entries}))
            )
        else:
            change = {"$set": {"entries": entries, "revision": doc["revision"] + 1}}
            writes.append(
                (customer_id, UpdateOne({"_id": customer_id, "revision": doc["revision"]}, change))
            )
    for start in range(0, len(writes), BULK_CHUNK):
        chunk = writes[start : start + BULK_CHUNK]
        if not await _bulk(timelines, [w for _, w in chunk]):
            # some write lost a race: redo this chunk's customers one by one (keyed: no doubles)
            for customer_id, _ in chunk:
                await add_one(timelines, customer_id, by_customer[customer_id], limit)


async def _bulk(
    timelines: AsyncCollection[Document], writes: list[InsertOne[Document] | UpdateOne]
) -> bool:
    """True if every statement took effect."""
    try:
        result = await timelines.bulk_write(writes, ordered=False)
    except BulkWriteError:
        return False
    return result.inserted_count + result.matched_count == len(writes)


async def add_one(
    timelines: AsyncCollection[Document], customer_id: str, new: list[Document], limit: int
) -> None:
    """One customer's entries, with a compare-and-set loop of its own."""
    for _ in range(CAS_ATTEMPTS):
        doc = await timelines.find_one({"_id": customer_id})
        entries = appended(list((doc or {}).get("entries", [])), new, limit)
        if entries is None:
            return
        if doc is None:
            try:
                await timelines.insert_one({"_id": customer_id, "revision": 1, "entries": entries})
                return
            except DuplicateKeyError:
                continue
        result = await timelines.update_one(
            {"_id": customer_id, "revision": doc["revision"]},
            {"$set": {"entries": entries, "revision": doc["revision"] + 1}},
        )
        if result.matched_count:
            return
    raise ConcurrentTimelineUpdate(customer_id)
