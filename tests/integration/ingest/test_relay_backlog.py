"""The relay on the real FerretDB and Kafka: a backlog left behind (the store went away while the
apply stage held these events) is claimed a page at a time with a fixed number of store commands,
not one round trip per event, and every event ends applied and published once."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient, monitoring

from libs.contracts import Lifecycle
from libs.runtime.clock import now
from services.ingest.event_log_mongo import MongoEventLog
from services.ingest.metrics import IngestMetrics
from services.ingest.relay import OutboxRelay

from .conftest import IngestOnStack as IngestService
from .test_accept import checkout_event

pytestmark = pytest.mark.integration

BACKLOG = 1500
PAGE = 1000


class CommandCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class Paused:
    """An apply stage that takes nothing: as if the store failed under every batch."""

    queued = 0

    def submit(self, event_id: str, body: dict[str, Any]) -> bool:
        return True

    async def drain(self, wait_seconds: float = 10.0) -> None:
        return None


async def test_a_backlog_is_claimed_a_page_per_pass_and_drains_completely(
    service: IngestService, mongo_db: Any, mongodb_uri: str
) -> None:
    # Leave BACKLOG accepted events `received`, with their markers, as an outage would.
    real_stage = service.ingest.stage
    service.ingest.service.stage = Paused()  # type: ignore[assignment]
    emails = [f"backlog.{i}.{uuid.uuid4().hex[:6]}@example.com" for i in range(BACKLOG)]
    for email in emails:
        event = checkout_event(email, f"cus_{uuid.uuid4().hex[:14]}", 1_700_000_000)
        await service.accept(json.dumps(event).encode())
    await service.events.unfinished.update_many(
        {}, {"$set": {"received_at": now() - timedelta(minutes=1)}}
    )
    assert (await service.events.backlog())[0] == BACKLOG

    counter = CommandCounter()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongodb_uri, tz_aware=True, event_listeners=[counter]
    )
    try:
        relay = OutboxRelay(
            real_stage,
            MongoEventLog(client[mongo_db.name]),
            service.publisher,
            IngestMetrics(CollectorRegistry()),
            after_seconds=1,
            interval_seconds=0.1,
        )
        handed = await relay.run_once(limit=PAGE)
        claim = [
            c
            for c in counter.commands
            if c not in ("count", "aggregate", "killCursors", "endSessions")
        ]
        # a page of 1,000: one scan of the markers, one leasing write, two reads by id, and the
        # backlog gauge's read of the oldest marker (FerretDB adds a getMore to close a cursor)
        # -- not a round trip per event
        assert handed == PAGE
        assert (claim.count("find"), claim.count("update")) == (4, 1), claim
        assert len(claim) <= 9, claim
        await real_stage.drain(60)
        assert await relay.run_once(limit=PAGE) == BACKLOG - PAGE
        await real_stage.drain(60)
        assert await relay.run_once(limit=PAGE) == 0
    finally:
        await client.close()

    assert (await service.events.backlog())[0] == 0
    left = service.events.events.find({"status": {"$ne": "published"}})
    assert [doc["_id"] async for doc in left] == []
    for email in emails[:: BACKLOG // 10]:
        customer = await service.customers.find_by_email(email)
        assert customer is not None
        assert (customer.lifecycle, customer.version) == (Lifecycle.PAID, 1)
