"""An ingest service wired as in `main`, on the real FerretDB and Kafka, with its apply stage
running and the Stripe API answering 404 to everything."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from libs.runtime.broker import make_broker
from services.ingest.apply_stage import ApplyStage
from services.ingest.intake import EventIntake
from services.ingest.metrics import IngestMetrics
from services.ingest.service import IngestService
from services.ingest.settings import IngestSettings
from services.ingest.store import IngestStore
from services.ingest.stripe_api import StripeApi


@pytest.fixture
async def service(mongo_db: Any, kafka_bootstrap: str) -> AsyncIterator[IngestService]:
    settings = IngestSettings.load(env="local", kafka_bootstrap_servers=kafka_bootstrap)
    broker = make_broker(settings)
    await broker.connect()
    store = IngestStore(mongo_db)
    await store.create_indexes()
    transport = httpx.MockTransport(lambda request: httpx.Response(404, json={}))
    async with httpx.AsyncClient(transport=transport, base_url="http://stripe") as client:
        svc = IngestService(
            store,
            EventIntake(store.events, store.unfinished),
            broker,
            StripeApi(client),
            IngestMetrics(CollectorRegistry()),
        )
        svc.stage = stage = ApplyStage(svc, store)
        applying = asyncio.create_task(stage.run_forever())
        yield svc
        await svc.drain()
        applying.cancel()
        await svc.intake.close()
    await broker.stop()
