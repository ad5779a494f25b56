"""The worker's dedupe store on the real FerretDB: processed ids and the applied version, which
only ever grows (FerretDB answers the colliding upsert with its own error, absorbed here)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from libs.runtime.dedupe import DedupeStore

pytestmark = pytest.mark.integration


async def test_the_applied_version_only_grows(mongo_db: Any) -> None:
    store = DedupeStore(mongo_db, "circle")
    await store.create_indexes(timedelta(days=14))
    assert await store.applied_version("cust_1") == 0
    await store.record_version("cust_1", 5)
    await store.record_version("cust_1", 3)  # an older one arriving late: no error, no change
    await store.record_version("cust_1", 5)
    assert await store.applied_version("cust_1") == 5
    await store.record_version("cust_1", 7)
    assert await store.applied_version("cust_1") == 7


async def test_concurrent_versions_keep_the_highest(mongo_db: Any) -> None:
    store = DedupeStore(mongo_db, "circle")
    await asyncio.gather(*(store.record_version("cust_2", v) for v in (4, 9, 2, 7, 9, 1)))
    assert await store.applied_version("cust_2") == 9


async def test_processed_ids_are_remembered_and_pruned(mongo_db: Any) -> None:
    store = DedupeStore(mongo_db, "circle")
    await store.create_indexes(timedelta(days=14))
    await store.mark_processed("evt_1", "cust_1", "synced")
    await store.mark_processed("evt_1", "cust_1", "synced")  # idempotent
    assert await store.is_processed("evt_1")
    assert not await store.is_processed("evt_2")
    old = datetime.now(UTC) - timedelta(days=30)
    await store.processed.update_one({"_id": "evt_1"}, {"$set": {"at": old}})
    await store.mark_processed("evt_3", "cust_1", "stale")
    assert await store.prune(timedelta(days=14)) == 1
    assert not await store.is_processed("evt_1")
    assert await store.is_processed("evt_3")
