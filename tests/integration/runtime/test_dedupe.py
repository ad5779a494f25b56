"""The worker's dedupe records on the real FerretDB (and the in-memory fake, which must answer as
the store does): one record per customer with the applied version (which only ever grows), the
desired-state key and the latest event outcomes, written by compare-and-set so concurrent
writers (a replay beside the live stream) lose nothing; and one read plus one write per event."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandListener, CommandStartedEvent

from libs.runtime.dedupe import (
    RECENT_EVENTS,
    DedupeRecords,
    InMemoryDedupe,
    MongoDedupe,
    as_read,
    lookup,
    record,
    unsettle,
)

pytestmark = pytest.mark.integration


@pytest.fixture(params=["mongo", "fake"])
def store(request: pytest.FixtureRequest, mongo_db: Any) -> DedupeRecords:
    return InMemoryDedupe() if request.param == "fake" else MongoDedupe(mongo_db, "circle")


async def record_outcome(
    store: DedupeRecords, customer_id: str, event_id: str, outcome: str, **kw: Any
) -> None:
    await store.update(customer_id, record(event_id, outcome, **kw))


async def applied(store: DedupeRecords, customer_id: str) -> tuple[int, str | None]:
    found = await lookup(store, customer_id)
    return found.version, found.desired_key


async def test_the_applied_version_only_grows(store: DedupeRecords) -> None:
    assert (await lookup(store, "cust_1")).version == 0
    await record_outcome(store, "cust_1", "evt_5", "synced", version=5, desired_key="k5")
    await record_outcome(store, "cust_1", "evt_3", "synced", version=3, desired_key="k3")  # late
    assert await applied(store, "cust_1") == (5, "k5")
    await record_outcome(store, "cust_1", "evt_7", "synced", version=7, desired_key="k7")
    assert await applied(store, "cust_1") == (7, "k7")


async def test_concurrent_records_keep_the_highest_version_and_every_event(
    store: DedupeRecords,
) -> None:
    versions = (4, 9, 2, 7, 9, 1)
    await asyncio.gather(
        *(
            record_outcome(store, "cust_2", f"evt_{i}", "synced", version=v, desired_key=f"k{v}")
            for i, v in enumerate(versions)
        )
    )
    found = await lookup(store, "cust_2")
    assert (found.version, found.desired_key) == (9, "k9")
    assert sorted(found.recent) == sorted(f"evt_{i}" for i in range(len(versions)))


async def test_one_read_tells_a_processed_event_and_its_outcome(store: DedupeRecords) -> None:
    await record_outcome(store, "cust_3", "evt_1", "synced", version=1, desired_key="k")
    await record_outcome(store, "cust_3", "evt_1", "synced", version=1, desired_key="k")  # again
    await record_outcome(store, "cust_3", "evt_0", "stale")
    found = await lookup(store, "cust_3")
    assert (found.outcome_of("evt_1"), found.outcome_of("evt_0")) == ("synced", "stale")
    assert found.outcome_of("evt_2") is None
    assert (await lookup(store, "cust_3")).outcome_of("evt_1") is not None
    assert (await lookup(store, "cust_4")).outcome_of("evt_1") is None


async def test_a_failure_forgets_the_key_and_keeps_the_version(store: DedupeRecords) -> None:
    await record_outcome(store, "cust_5", "evt_1", "synced", version=3, desired_key="k")
    await record_outcome(store, "cust_5", "evt_2", "failed", forget_desired=True)
    assert await applied(store, "cust_5") == (3, None)
    assert (await lookup(store, "cust_5")).outcome_of("evt_2") == "failed"


async def test_a_step_that_began_writing_is_unsettled_until_it_syncs(
    store: DedupeRecords,
) -> None:
    await record_outcome(store, "cust_u", "evt_1", "synced", version=1, desired_key="k1")
    seen = await lookup(store, "cust_u")
    assert not seen.unsettled
    # the mark before the first provider write: from the step's own read, the key forgotten
    marked = await store.update("cust_u", unsettle, as_read("cust_u", seen))
    assert marked.after is not None
    again = await lookup(store, "cust_u")
    assert (again.unsettled, again.desired_key, again.version) == (True, None, 1)
    # the step's record writes from the mark's result: no second read, no lost write
    await store.update(
        "cust_u", record("evt_2", "failed", forget_desired=True), as_read("cust_u", marked.after)
    )
    assert (await lookup(store, "cust_u")).unsettled  # a failure does not settle it
    await record_outcome(store, "cust_u", "evt_0", "stale")
    assert (await lookup(store, "cust_u")).unsettled  # nor does a stale event
    await record_outcome(store, "cust_u", "evt_3", "synced", version=3, settles=True)
    settled = await lookup(store, "cust_u")
    assert (settled.unsettled, settled.version) == (False, 3)
    # a customer's very first step: the mark creates the record
    first = await store.update(
        "cust_new", unsettle, as_read("cust_new", await lookup(store, "cust_new"))
    )
    assert first.after is not None
    assert (await lookup(store, "cust_new")).unsettled


async def test_the_record_keeps_only_the_latest_events(store: DedupeRecords) -> None:
    for i in range(RECENT_EVENTS + 5):
        await record_outcome(
            store, "cust_6", f"evt_{i}", "synced", version=i + 1, desired_key=str(i)
        )
    found = await lookup(store, "cust_6")
    assert len(found.recent) == RECENT_EVENTS
    assert found.outcome_of("evt_0") is None  # forgotten, yet a redelivery is stale by version
    assert found.outcome_of(f"evt_{RECENT_EVENTS + 4}") == "synced"
    assert found.version == RECENT_EVENTS + 5


async def test_a_record_written_from_a_stale_read_is_redone(store: DedupeRecords) -> None:
    await record_outcome(store, "cust_7", "evt_1", "synced", version=1, desired_key="a")
    seen = await lookup(store, "cust_7")
    await record_outcome(
        store, "cust_7", "evt_2", "synced", version=2, desired_key="b"
    )  # meanwhile
    await store.update(
        "cust_7", record("evt_3", "stale"), as_read("cust_7", seen)
    )  # from the older read
    found = await lookup(store, "cust_7")
    assert (found.version, found.desired_key) == (2, "b")
    assert set(found.recent) == {"evt_1", "evt_2", "evt_3"}


class Commands(CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass

    def take(self) -> list[str]:
        names, self.names = self.names, []
        return names


async def test_an_event_costs_one_read_and_one_write(mongodb_uri: str, mongo_db: Any) -> None:
    commands = Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongodb_uri, tz_aware=True, event_listeners=[commands]
    )
    try:
        store = MongoDedupe(client[mongo_db.name], "circle")
        for event_id, version, write in (("evt_1", 1, "insert"), ("evt_2", 2, "update")):
            seen = await lookup(store, "cust_8")  # the worker's read, before it decides
            await store.update(
                "cust_8", record(event_id, "synced", version=version), as_read("cust_8", seen)
            )
            assert commands.take() == ["find", write]
        # the stored shape is the one existing records have
        doc = await mongo_db["circle_applied"].find_one({"_id": "cust_8"})
        assert set(doc) >= {"_id", "version", "desired_key", "recent", "revision", "at"}
        assert (doc["revision"], doc["recent"][-1]) == (
            2,
            {"event_id": "evt_2", "outcome": "synced"},
        )
    finally:
        await client.close()
