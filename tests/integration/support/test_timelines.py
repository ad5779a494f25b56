"""Support's timelines on the real FerretDB, written a batch at a time: one read and one bulk
write for a batch's customers, each outcome once however often it is delivered, the newest kept,
and nothing lost when two batches write one customer at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.support import timelines
from services.support.mongo_records import MongoIncidentRecords, MongoTimelines

pytestmark = pytest.mark.integration


def entry(n: int, integration: str = "circle") -> dict[str, Any]:
    return {"key": f"{integration}|evt_{n}|-|synced", "event_id": f"evt_{n}", "n": n}


class Store:
    """The timelines port as the use cases write it."""

    def __init__(self, db: Any) -> None:
        self.repo = MongoTimelines(db)

    async def add_timeline_entry(self, customer_id: str, entry: Any, limit: int) -> None:
        await timelines.add_entries(self.repo, [(customer_id, entry)], limit)

    async def add_timeline_entries(self, items: Any, limit: int) -> None:
        await timelines.add_entries(self.repo, items, limit)


async def keys(store: Store, customer_id: str) -> list[str]:
    return [e["key"] for e in await timelines.timeline(store.repo, customer_id)]


async def test_a_batch_writes_every_customer_in_order_and_once(mongo_db: Any) -> None:
    store = Store(mongo_db)
    await store.add_timeline_entry("cus_a", entry(0), limit=50)
    batch = [(f"cus_{c}", entry(n)) for n in range(3) for c in "abc"]
    await store.add_timeline_entries(batch, limit=50)
    await store.add_timeline_entries(batch, limit=50)  # the batch redelivered
    assert await keys(store, "cus_a") == [entry(n)["key"] for n in range(3)]
    assert await keys(store, "cus_c") == [entry(n)["key"] for n in range(3)]


async def test_only_the_newest_entries_are_kept(mongo_db: Any) -> None:
    store = Store(mongo_db)
    await store.add_timeline_entries([("cus_d", entry(n)) for n in range(15)], limit=10)
    assert await keys(store, "cus_d") == [entry(n)["key"] for n in range(5, 15)]


async def test_concurrent_batches_for_one_customer_lose_nothing(mongo_db: Any) -> None:
    store = Store(mongo_db)
    await store.add_timeline_entry("cus_e", entry(0), limit=500)
    batches = [
        [("cus_e", entry(10 * b + n, f"int{b}")) for n in range(5)] + [("cus_f", entry(b))]
        for b in range(6)
    ]
    await asyncio.gather(*(store.add_timeline_entries(b, limit=500) for b in batches))
    assert len(await keys(store, "cus_e")) == 1 + 6 * 5
    assert sorted(await keys(store, "cus_f")) == sorted(entry(b)["key"] for b in range(6))


async def test_a_batch_reads_incident_records_only_for_pairs_that_have_one(mongo_db: Any) -> None:
    incidents = MongoIncidentRecords(mongo_db)
    await incidents.collection.insert_one({"_id": "cus_g:circle", "revision": 1})
    pairs = {"cus_g:circle", "cus_g:convertkit", "cus_h:circle"}
    assert await incidents.present(pairs) == {"cus_g:circle"}
    assert await incidents.present(set()) == set()
