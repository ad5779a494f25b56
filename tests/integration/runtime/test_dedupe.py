"""The worker's dedupe store on the real FerretDB: one record per customer with the applied
version (which only ever grows), the desired-state key and the latest event outcomes, written
by compare-and-set so concurrent writers (a replay beside the live stream) lose nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from libs.runtime.dedupe import RECENT_EVENTS, DedupeStore

pytestmark = pytest.mark.integration


async def test_the_applied_version_only_grows(mongo_db: Any) -> None:
    store = DedupeStore(mongo_db, "circle")
    assert await store.applied_version("cust_1") == 0
    await store.record("cust_1", "evt_5", "synced", version=5, desired_key="k5")
    await store.record("cust_1", "evt_3", "synced", version=3, desired_key="k3")  # late, older
    assert await store.applied("cust_1") == (5, "k5")
    await store.record("cust_1", "evt_7", "synced", version=7, desired_key="k7")
    assert await store.applied("cust_1") == (7, "k7")


async def test_concurrent_records_keep_the_highest_version_and_every_event(mongo_db: Any) -> None:
    store = DedupeStore(mongo_db, "circle")
    versions = (4, 9, 2, 7, 9, 1)
    await asyncio.gather(
        *(
            store.record("cust_2", f"evt_{i}", "synced", version=v, desired_key=f"k{v}")
            for i, v in enumerate(versions)
        )
    )
    found = await store.lookup("cust_2")
    assert (found.version, found.desired_key) == (9, "k9")
    assert sorted(found.recent) == sorted(f"evt_{i}" for i in range(len(versions)))


async def test_one_read_tells_a_processed_event_and_its_outcome(mongo_db: Any) -> None:
    store = DedupeStore(mongo_db, "circle")
    await store.record("cust_3", "evt_1", "synced", version=1, desired_key="k")
    await store.record("cust_3", "evt_1", "synced", version=1, desired_key="k")  # idempotent
    await store.record("cust_3", "evt_0", "stale")
    found = await store.lookup("cust_3")
    assert (found.outcome_of("evt_1"), found.outcome_of("evt_0")) == ("synced", "stale")
    assert found.outcome_of("evt_2") is None
    assert await store.is_processed("cust_3", "evt_1")
    assert not await store.is_processed("cust_4", "evt_1")


async def test_a_failure_forgets_the_key_and_keeps_the_version(mongo_db: Any) -> None:
    store = DedupeStore(mongo_db, "circle")
    await store.record("cust_5", "evt_1", "synced", version=3, desired_key="k")
    await store.record("cust_5", "evt_2", "failed", forget_desired=True)
    assert await store.applied("cust_5") == (3, None)
    assert (await store.lookup("cust_5")).outcome_of("evt_2") == "failed"


async def test_the_record_keeps_only_the_latest_events(mongo_db: Any) -> None:
    store = DedupeStore(mongo_db, "circle")
    for i in range(RECENT_EVENTS + 5):
        await store.record("cust_6", f"evt_{i}", "synced", version=i + 1, desired_key=str(i))
    found = await store.lookup("cust_6")
    assert len(found.recent) == RECENT_EVENTS
    assert found.outcome_of("evt_0") is None  # forgotten, yet a redelivery is stale by version
    assert found.outcome_of(f"evt_{RECENT_EVENTS + 4}") == "synced"
    assert found.version == RECENT_EVENTS + 5


async def test_a_record_written_from_a_stale_read_is_redone(mongo_db: Any) -> None:
    store = DedupeStore(mongo_db, "circle")
    await store.record("cust_7", "evt_1", "synced", version=1, desired_key="a")
    seen = await store.lookup("cust_7")
    await store.record("cust_7", "evt_2", "synced", version=2, desired_key="b")  # meanwhile
    await store.record("cust_7", "evt_3", "stale", seen=seen)  # from the older read
    found = await store.lookup("cust_7")
    assert (found.version, found.desired_key) == (2, "b")
    assert set(found.recent) == {"evt_1", "evt_2", "evt_3"}
