"""An ingest service wired as in `main`, on the real FerretDB and Kafka, with its apply stage
running and the Stripe API answering 404 to everything."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from libs.contracts import SyncResult
from libs.runtime.broker import make_broker
from services.ingest.assembly import Ingest, assemble
from services.ingest.customers import MongoCustomers
from services.ingest.event_log_mongo import MongoEventLog
from services.ingest.metrics import IngestMetrics
from services.ingest.outbox import OutboxPublisher
from services.ingest.results import record_results
from services.ingest.service import Accepted, IngestService
from services.ingest.settings import IngestSettings
from services.ingest.stripe_api import StripeApi


@dataclass
class IngestOnStack:
    ingest: Ingest
    customers: MongoCustomers
    events: MongoEventLog

    @property
    def service(self) -> IngestService:
        return self.ingest.service

    @property
    def publisher(self) -> OutboxPublisher:
        return self.ingest.publisher

    async def accept(self, raw: bytes) -> Accepted:
        return await self.ingest.service.accept(raw)

    async def drain(self) -> None:
        await self.ingest.service.drain()

    async def record_results(self, results: Sequence[SyncResult], enabled: tuple[str, ...]) -> None:
        await record_results(results, enabled, self.customers, self.ingest.publisher)


@pytest.fixture
async def service(mongo_db: Any, kafka_bootstrap: str) -> AsyncIterator[IngestOnStack]:
    settings = IngestSettings.load(env="local", kafka_bootstrap_servers=kafka_bootstrap)
    broker = make_broker(settings)
    await broker.connect()
    customers, events = MongoCustomers(mongo_db), MongoEventLog(mongo_db)
    await events.create_indexes()
    await customers.create_indexes()
    transport = httpx.MockTransport(lambda request: httpx.Response(404, json={}))
    async with httpx.AsyncClient(transport=transport, base_url="http://stripe") as client:
        ingest = assemble(
            settings,
            broker,
            customers,
            events,
            StripeApi(client),
            IngestMetrics(CollectorRegistry()),
        )
        applying = asyncio.create_task(ingest.stage.run_forever())
        yield IngestOnStack(ingest, customers, events)
        await ingest.service.drain()
        applying.cancel()
        await ingest.service.intake.close()
    await broker.stop()
