"""DESIGN guarantee 3 on the real Kafka and FerretDB: a worker commits its offset only after the
downstream effect and its dedupe record are written; a crash in between redelivers, and the
redelivery is harmless.

Each test runs the shared worker loop in a real process (`crash_worker.py`) that dies like a
SIGKILL at a chosen point, then starts a second one in the same consumer group.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from libs.contracts import CustomerEvent, Lifecycle, Source

from .crash_worker import CRASH_EXIT_CODE

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
PARTITIONS = 3


@dataclass
class Topics:
    events: str
    replays: str
    results: str
    failures: str

    def all(self) -> list[str]:
        return [self.events, self.replays, self.results, self.failures]


@pytest.fixture
async def topics(kafka_bootstrap: str) -> AsyncIterator[Topics]:
    run = uuid.uuid4().hex[:10]
    names = Topics(*(f"t.{kind}.{run}" for kind in ("events", "replays", "results", "failed")))
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in names.all()])
        yield names
        await admin.delete_topics(names.all())
    finally:
        await admin.close()


def customer_event(
    n: int, customer_id: str | None = None, version: int = 1, email: str | None = None
) -> CustomerEvent:
    event_id = f"evt_{uuid.uuid4().hex[:16]}"
    return CustomerEvent(
        event_id=event_id,
        customer_id=customer_id or f"cust_{uuid.uuid4().hex[:12]}_{n}",
        version=version,
        email=email or f"crash.{uuid.uuid4().hex[:10]}@example.com",
        lifecycle=Lifecycle.PAID,
        products=("prod_basic",),
        source=Source(
            event_id=event_id,
            event_type="checkout.session.completed",
            occurred_at=datetime.now(UTC),
        ),
    )


async def publish(
    bootstrap: str,
    topic: str,
    events: list[CustomerEvent],
    partitions: dict[str, int] | None = None,
) -> dict[str, int]:
    """Publish keyed by customer (to `partitions[customer_id]` if given); return each event's
    partition."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        where = {}
        for event in events:
            meta = await producer.send_and_wait(
                topic,
                event.to_bytes(),
                key=event.customer_id.encode(),
                partition=(partitions or {}).get(event.customer_id),
            )
            where[event.event_id] = meta.partition
        return where
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[dict[str, Any]] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                out.extend(json.loads(r.value) for r in records)
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
        return out
    finally:
        await consumer.stop()


async def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}
    finally:
        await admin.close()


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(PARTITIONS)])
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def eventually(check: Any, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out after {within} s waiting for {what}")


class Worker:
    def __init__(self, config: dict[str, Any], log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.runtime.crash_worker", json.dumps(config)],
            cwd=REPO,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    async def exit_code(self, within: float) -> int:
        deadline = time.monotonic() + within
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"worker still running:\n{self.log.read_text()[-3000:]}")
            await asyncio.sleep(0.1)
        return self.process.returncode

    async def terminate(self, within: float = 15) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return await self.exit_code(within)


@dataclass
class Scenario:
    bootstrap: str
    mongodb_uri: str
    db: Any
    topics: Topics
    group: str
    tmp: Path

    def config(
        self, tag: str, crash_at: str = "", crash_event: str = "", sync_delay: float = 0
    ) -> dict[str, Any]:
        return {
            "bootstrap": self.bootstrap,
            "mongodb_uri": self.mongodb_uri,
            "database": self.db.name,
            "group": self.group,
            "events_topic": self.topics.events,
            "replays_topic": self.topics.replays,
            "results_topic": self.topics.results,
            "failures_topic": self.topics.failures,
            "crash_at": crash_at,
            "crash_event": crash_event,
            "sync_delay": sync_delay,
            "tag": tag,
        }

    def start(self, tag: str, **options: Any) -> Worker:
        return Worker(self.config(tag, **options), self.tmp / f"{tag}.log")

    async def calls(self, event_id: str) -> list[str]:
        return [d["tag"] async for d in self.db["calls"].find({"event_id": event_id})]

    async def writes(self) -> dict[str, int]:
        return {d["_id"]: d["writes"] async for d in self.db["downstream"].find({})}

    async def processed(self) -> dict[str, str]:
        records = self.db["testprov_applied"].find({})
        return {e["event_id"]: e["outcome"] async for d in records for e in d["recent"]}

    async def results(self) -> list[dict[str, Any]]:
        return await read_all(self.bootstrap, self.topics.results)

    async def all_committed(self) -> bool:
        ends = await end_offsets(self.bootstrap, self.topics.events)
        done = await committed(self.bootstrap, self.group, self.topics.events)
        return all(done.get(p, 0) == end for p, end in ends.items())


@pytest.fixture
def scenario(
    kafka_bootstrap: str, mongodb_uri: str, mongo_db: Any, topics: Topics, tmp_path: Path
) -> Scenario:
    group = f"crash-{uuid.uuid4().hex[:8]}"
    return Scenario(kafka_bootstrap, mongodb_uri, mongo_db, topics, group, tmp_path)


async def crash_then_recover(
    scenario: Scenario, crash_at: str
) -> tuple[list[CustomerEvent], CustomerEvent, list[dict[str, Any]]]:
    events = [customer_event(n) for n in range(6)]
    victim = events[2]
    where = await publish(scenario.bootstrap, scenario.topics.events, events)

    first = scenario.start("first", crash_at=crash_at, crash_event=victim.event_id)
    assert await first.exit_code(within=60) == CRASH_EXIT_CODE, first.log.read_text()[-3000:]

    # The effect is done, and the victim's partition is not committed past it.
    assert (await scenario.writes()).get(victim.email) == 1
    done = await committed(scenario.bootstrap, scenario.group, scenario.topics.events)
    victim_offset = sum(
        1 for e in events[:2] if where[e.event_id] == where[victim.event_id]
    )  # its offset in its (fresh) partition
    assert done.get(where[victim.event_id], -1) <= victim_offset

    second = scenario.start("second")
    try:

        async def every_event_reported() -> list[dict[str, Any]] | None:
            results = await scenario.results()
            reported = {r["event_id"] for r in results}
            return results if reported >= {e.event_id for e in events} else None

        await eventually(every_event_reported, 60, "an outcome for every event")
        await eventually(scenario.all_committed, 30, "every offset committed")
        # read again: an outcome published before its commit (a redelivery's "duplicate") may
        # have come after the first outcome of every event was seen
        results = await scenario.results()
    finally:
        assert await second.terminate() == 0, second.log.read_text()[-3000:]

    # Nothing lost, nothing doubled: one write per customer, the victim's included.
    assert await scenario.writes() == {e.email: 1 for e in events}
    outcomes = await scenario.processed()
    assert {e.event_id for e in events} <= set(outcomes)
    return events, victim, [r for r in results if r["event_id"] == victim.event_id]


async def test_a_crash_after_the_effect_before_the_records_redelivers_harmlessly(
    scenario: Scenario,
) -> None:
    _, victim, victim_results = await crash_then_recover(scenario, "effect")
    # Redelivered: the second worker ran it again, found the member in the group, wrote nothing,
    # and reported it synced (the first worker died before publishing anything for it).
    assert await scenario.calls(victim.event_id) == ["first", "second"]
    assert [(r["outcome"], r["actions"]) for r in victim_results] == [("synced", [])]


async def test_a_crash_after_the_records_before_the_commit_redelivers_as_a_duplicate(
    scenario: Scenario,
) -> None:
    _, victim, victim_results = await crash_then_recover(scenario, "recorded")
    # Redelivered, recognised by its dedupe record, not run again; the first worker had already
    # published the outcome, because outcomes go out before the records.
    assert await scenario.calls(victim.event_id) == ["first"]
    assert [(r["outcome"], r["actions"]) for r in victim_results] == [
        ("synced", ["add_access_group:Members"]),
        ("duplicate", []),
    ]


async def test_sigterm_leaves_the_group_with_everything_committed(scenario: Scenario) -> None:
    events = [customer_event(n) for n in range(4)]
    await publish(scenario.bootstrap, scenario.topics.events, events)
    worker = scenario.start("only")
    try:
        await eventually(scenario.all_committed, 60, "every offset committed")
    finally:
        started = time.monotonic()
        assert await worker.terminate() == 0, worker.log.read_text()[-3000:]
    assert time.monotonic() - started < 10
    assert "worker stopped" in worker.log.read_text()


async def test_partitions_run_in_parallel_and_each_in_order(scenario: Scenario) -> None:
    # Three customers, one per partition, three versions each; every sync takes 0.5 s.
    customers = [f"cust_{uuid.uuid4().hex[:12]}" for _ in range(PARTITIONS)]
    events = [
        customer_event(n, customer_id=c, version=v, email=f"{c}@example.com")
        for v in (1, 2, 3)
        for n, c in enumerate(customers)
    ]
    where = {c: n for n, c in enumerate(customers)}
    await publish(scenario.bootstrap, scenario.topics.events, events, partitions=where)
    worker = scenario.start("parallel", sync_delay=0.5)
    try:
        await eventually(scenario.all_committed, 60, "every offset committed")
    finally:
        assert await worker.terminate() == 0, worker.log.read_text()[-3000:]

    calls = [d async for d in scenario.db["calls"].find({})]
    # Latest state wins: the versions that wait while a customer's sync runs are taken together,
    # and only the newest of them costs a call (the rest are recorded as superseded).
    assert 6 <= len(calls) <= 9
    span = max(c["ended"] for c in calls) - min(c["started"] for c in calls)
    assert span < 3.5, f"{len(calls)} syncs of 0.5 s took {span:.1f} s: not in parallel"
    outcomes = [
        (r["customer_id"], r["version"], r["outcome"], r["actions"])
        for r in await scenario.results()
    ]
    for customer in customers:
        mine = sorted(
            (c for c in calls if c["customer_id"] == customer), key=lambda c: c["started"]
        )
        versions = [c["version"] for c in mine]
        assert versions == sorted(versions)  # in order within the partition
        assert versions[-1] == 3  # the newest state always runs
        reported = {v: (o, a) for c, v, o, a in outcomes if c == customer}
        assert sorted(reported) == [1, 2, 3]  # every version answered once
        for version in (1, 2, 3):
            if version in versions:
                assert reported[version][0] == "synced"
            else:
                assert reported[version] == ("stale", ["superseded"])
