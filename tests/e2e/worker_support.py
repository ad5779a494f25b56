"""Helpers for the worker end-to-end tests: follow a topic from now on, publish customer events
straight to the workers, restart circle_sync with other settings, and read its metrics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from libs.contracts import (
    CUSTOMER_EVENTS,
    SYNC_RESULTS,
    TOPIC_PARTITIONS,
    CustomerEvent,
    Lifecycle,
    Source,
    failure_topic,
)

from .conftest import PORTS, System, wait_for

CREATE = "POST /api/admin/v2/community_members"
GRANT = "POST /api/admin/v2/access_groups/{id}/community_members"
SEARCH = "GET /api/admin/v2/community_members/search"
CIRCLE_FAILED = failure_topic("circle")
CIRCLE_METRICS = f"http://127.0.0.1:{PORTS['circle_sync']}/metrics"

#: Short backoffs, so retries take milliseconds. Retry-After is capped at 2.5 s here, so a test
#: can tell "honoured" (>= 2.5 s) from "the window" (0.1 s) and "uncapped" (30 s).
FAST_RETRIES = {
    "SWITCHBOARD_CIRCLE_RETRIES": "3",
    "SWITCHBOARD_CIRCLE_BACKOFF_BASE_SECONDS": "0.05",
    "SWITCHBOARD_CIRCLE_BACKOFF_MAX_SECONDS": "0.2",
    "SWITCHBOARD_CIRCLE_RATE_LIMIT_WINDOW_SECONDS": "0.1",
    "SWITCHBOARD_CIRCLE_MAX_RETRY_AFTER_SECONDS": "2.5",
    "SWITCHBOARD_CIRCLE_RATE_LIMIT_BUDGET_SECONDS": "30",
}


class TopicTail:
    """Every message published to `topic` after this object was made (JSON bodies, in
    partition order). Each `read` catches up with a short-lived consumer."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = [TopicPartition(topic, p) for p in range(TOPIC_PARTITIONS[topic])]
        self.positions: dict[TopicPartition, int] = asyncio.run(self._ends())
        self.messages: list[dict[str, Any]] = []

    async def _consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        return consumer

    async def _ends(self) -> dict[TopicPartition, int]:
        consumer = await self._consumer()
        try:
            return dict(await consumer.end_offsets(self.partitions))
        finally:
            await consumer.stop()

    async def _catch_up(self) -> None:
        consumer = await self._consumer()
        try:
            consumer.assign(self.partitions)
            for tp, offset in self.positions.items():
                consumer.seek(tp, offset)
            ends = await consumer.end_offsets(self.partitions)
            behind = {tp for tp in self.partitions if self.positions[tp] < ends[tp]}
            while behind:
                for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                    for record in records:
                        self.messages.append(json.loads(record.value))
                        self.positions[tp] = record.offset + 1
                behind = {tp for tp in behind if self.positions[tp] < ends[tp]}
        finally:
            await consumer.stop()

    def read(self) -> list[dict[str, Any]]:
        asyncio.run(self._catch_up())
        return self.messages

    def about(
        self, event_id: str, integration: str | None = "circle", *, progress: bool = False
    ) -> list[dict[str, Any]]:
        """Messages about `event_id`; outcomes only, unless `progress` (the `retrying` reports
        a worker publishes while it waits to try again)."""
        return [
            m
            for m in self.read()
            if m["event_id"] == event_id
            and (integration is None or m.get("integration") == integration)
            and (progress or m.get("outcome") not in ("retrying", "waiting"))
        ]

    def wait(
        self, event_id: str, outcome: str | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        """The first circle message about `event_id` (with `outcome`, if given)."""

        def found() -> dict[str, Any] | None:
            for message in self.about(event_id):
                if outcome is None or message.get("outcome") == outcome:
                    return message
            return None

        return dict(wait_for(found, timeout=timeout, what=f"{self.topic} for {event_id}"))


def results(system: System) -> TopicTail:
    return TopicTail(bootstrap(system), SYNC_RESULTS)


def failures(system: System) -> TopicTail:
    return TopicTail(bootstrap(system), CIRCLE_FAILED)


def bootstrap(system: System) -> str:
    return system.env["SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS"]


def customer_event(
    customer_id: str, email: str, version: int, event_id: str | None = None
) -> CustomerEvent:
    event_id = event_id or f"evt_e2e_{uuid.uuid4().hex[:16]}"
    return CustomerEvent(
        event_id=event_id,
        customer_id=customer_id,
        version=version,
        email=email,
        lifecycle=Lifecycle.PAID,
        products=("prod_e2e",),
        source=Source(
            event_id=event_id,
            event_type="checkout.session.completed",
            occurred_at=datetime.now(UTC),
        ),
    )


def publish_events(system: System, events: list[CustomerEvent]) -> None:
    """Straight onto customer.events.v1, keyed by customer, in this order (what ingest does)."""

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap(system), enable_idempotence=True)
        await producer.start()
        try:
            for event in events:
                await producer.send_and_wait(
                    CUSTOMER_EVENTS, event.to_bytes(), key=event.customer_id.encode()
                )
        finally:
            await producer.stop()

    asyncio.run(send())


def caught_up(system: System) -> bool:
    """circle_sync's group has committed every message of customer.events.v1. (Each test
    session's workers start from the topic's beginning in a fresh group, so right after a start
    they work through earlier sessions' events; a fault injected then would hit those.)"""

    async def check() -> bool:
        group = f"{system.env['SWITCHBOARD_KAFKA_GROUP_PREFIX']}-circle"
        partitions = [TopicPartition(CUSTOMER_EVENTS, p) for p in range(12)]
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(system))
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap(system))
        await admin.start()
        await consumer.start()
        try:
            ends = await consumer.end_offsets(partitions)
            done = await admin.list_consumer_group_offsets(group, partitions=partitions)
        finally:
            await consumer.stop()
            await admin.close()
        return all(
            (done[tp].offset if tp in done else -1) >= end for tp, end in ends.items() if end > 0
        )

    return asyncio.run(check())


def wait_caught_up(system: System, timeout: float = 60) -> None:
    wait_for(lambda: caught_up(system), timeout=timeout, what="circle_sync to catch up")


def wait_consuming(system: System, timeout: float = 60) -> None:
    """circle_sync holds its partitions and works: a probe event for a customer of its own comes
    back on sync.results.v1 (with whatever outcome the mode gives it). Healthy is not enough:
    a worker is healthy before its consumers have joined the group, and one stopped while it is
    still joining leaves members behind that hold up the next start for a session timeout."""
    tail = results(system)
    probe = customer_event(
        f"cust_probe_{uuid.uuid4().hex[:12]}", f"probe.{uuid.uuid4().hex[:10]}@example.com", 1
    )
    publish_events(system, [probe])
    tail.wait(probe.event_id, timeout=timeout)


def restart_circle(system: System, extra_env: dict[str, str] | None = None) -> float:
    """SIGTERM circle_sync (once it is consuming), start it again with `extra_env`, and wait
    until the new one consumes and has caught up; return the seconds the old one took to exit."""
    wait_consuming(system)
    started = time.monotonic()
    system.stack.kill("circle_sync", signal.SIGTERM)
    stopped = time.monotonic() - started
    system.stack.restart("circle_sync", extra_env=extra_env)
    wait_consuming(system)
    wait_caught_up(system)
    return stopped


@contextlib.contextmanager
def circle_with(system: System, extra_env: dict[str, str]) -> Iterator[None]:
    """circle_sync runs with `extra_env` inside the block, with the stack's settings after."""
    restart_circle(system, extra_env)
    try:
        yield
    finally:
        system.clear_faults()
        restart_circle(system)


def metrics() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """circle_sync's samples, keyed by (name, labels)."""
    text = httpx.get(CIRCLE_METRICS, timeout=5).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(
    values: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return values.get((name, frozenset({"integration": "circle", **labels}.items())), 0.0)


def circle_counts(system: System, kind: str = "requests") -> dict[str, int]:
    return dict(system.state()["circle"][kind])


def delta(after: dict[str, int], before: dict[str, int], key: str) -> int:
    return after.get(key, 0) - before.get(key, 0)


def in_group(system: System, email: str, group: str = "Members") -> bool:
    for member in system.state()["circle"]["members"]:
        if member["email"].lower() == email.lower():
            return group in member["access_groups"]
    return False
