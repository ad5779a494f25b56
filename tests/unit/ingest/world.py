"""Ingest wired from its fakes (`InMemoryCustomers`, `InMemoryEventLog`) on FastStream's test
broker: no servers. What it publishes to `customer.events.v1` is collected as a worker would
read it."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from faststream.kafka import KafkaBroker, TestKafkaBroker
from prometheus_client import CollectorRegistry

from libs.contracts import CUSTOMER_EVENTS, CustomerEvent
from services.ingest.assembly import Ingest, assemble
from services.ingest.customers import InMemoryCustomers
from services.ingest.event_log import InMemoryEventLog
from services.ingest.metrics import IngestMetrics
from services.ingest.settings import IngestSettings
from services.ingest.stripe_api import StripeApi

ENABLED = ("circle", "convertkit", "crm")


def checkout(email: str, stripe_id: str, created: int | None = None) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": "checkout.session.completed",
        "created": created or int(time.time()),
        "data": {
            "object": {
                "id": f"cs_{uuid.uuid4().hex[:16]}",
                "object": "checkout.session",
                "mode": "subscription",
                "payment_status": "paid",
                "customer": stripe_id,
                "customer_details": {"email": email, "name": "Jane Doe"},
                "subscription": f"sub_{uuid.uuid4().hex[:14]}",
            }
        },
    }


def refund(stripe_id: str, created: int) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": "charge.refunded",
        "created": created,
        "data": {
            "object": {
                "id": f"ch_{uuid.uuid4().hex[:14]}",
                "object": "charge",
                "customer": stripe_id,
                "amount": 1000,
                "amount_refunded": 1000,
                "refunded": True,
                "billing_details": {"email": None},
            }
        },
    }


def email_changed(stripe_id: str, old: str, new: str, created: int) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": "customer.updated",
        "created": created,
        "data": {
            "object": {"id": stripe_id, "object": "customer", "email": new},
            "previous_attributes": {"email": old},
        },
    }


class World:
    def __init__(self) -> None:
        self.customers = InMemoryCustomers()
        self.events = InMemoryEventLog()
        self.broker = KafkaBroker("localhost:9092")
        self.published: list[CustomerEvent] = []
        settings = IngestSettings.load(env="local")
        self.stripe_http = httpx.AsyncClient(
            transport=httpx.MockTransport(lambda _: httpx.Response(404, json={})),
            base_url="http://stripe",
        )
        self.ingest: Ingest = assemble(
            settings,
            self.broker,
            self.customers,
            self.events,
            StripeApi(self.stripe_http),
            IngestMetrics(CollectorRegistry()),
        )
        for router in self.ingest.routers:
            self.broker.include_router(router)

        @self.broker.subscriber(CUSTOMER_EVENTS)
        async def worker(body: dict[str, Any]) -> None:
            self.published.append(CustomerEvent.model_validate(body))

    async def accept(self, *events: dict[str, Any]) -> list[bool]:
        """Deliver webhooks and wait until they are applied and published."""
        accepted = [await self.ingest.service.accept(json.dumps(e).encode()) for e in events]
        await self.ingest.service.drain()
        return [a.duplicate for a in accepted]

    async def customer_of(self, email: str) -> Any:
        return await self.customers.find_by_email(email)


@asynccontextmanager
async def running() -> AsyncIterator[tuple[World, KafkaBroker]]:
    world = World()
    async with TestKafkaBroker(world.broker) as kafka:
        applying = asyncio.create_task(world.ingest.stage.run_forever())
        try:
            yield world, kafka
        finally:
            applying.cancel()
            await world.ingest.service.intake.close()
            await world.stripe_http.aclose()
