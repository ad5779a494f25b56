"""Ingest's accept/apply/publish path on the real FerretDB and Kafka."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from libs.contracts import CUSTOMER_EVENTS, CustomerEvent, Lifecycle

from .conftest import IngestOnStack as IngestService

pytestmark = pytest.mark.integration


def checkout_event(email: str, customer: str, created: int | None = None) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": "checkout.session.completed",
        "created": created or int(time.time()),
        "api_version": "2026-06-24.dahlia",
        "data": {
            "object": {
                "id": f"cs_{uuid.uuid4().hex[:16]}",
                "object": "checkout.session",
                "mode": "subscription",
                "payment_status": "paid",
                "customer": customer,
                "customer_details": {"email": email, "name": "Jane Doe"},
                "subscription": f"sub_{uuid.uuid4().hex[:14]}",
            }
        },
    }


async def read_events(bootstrap: str, customer_id: str, wait: float = 5.0) -> list[CustomerEvent]:
    consumer = AIOKafkaConsumer(
        CUSTOMER_EVENTS,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    found: list[CustomerEvent] = []
    try:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if record.key == customer_id.encode():
                        found.append(CustomerEvent.model_validate_json(record.value))
    finally:
        await consumer.stop()
    return found


async def test_one_event_delivered_five_times_concurrently_has_one_effect(
    service: IngestService, kafka_bootstrap: str
) -> None:
    email = f"jane.{uuid.uuid4().hex[:8]}@Example.com"
    raw = json.dumps(checkout_event(email, f"cus_{uuid.uuid4().hex[:14]}")).encode()

    results = await asyncio.gather(*(service.accept(raw) for _ in range(5)))

    assert sorted(r.duplicate for r in results) == [False, True, True, True, True]
    await service.drain()
    customer = await service.customers.find_by_email(email.lower())
    assert customer is not None
    assert customer.lifecycle is Lifecycle.PAID
    assert customer.version == 1
    assert await service.customers.collection.count_documents({"email_lower": email.lower()}) == 1
    await service.drain()
    published = await read_events(kafka_bootstrap, customer.customer_id)
    assert [(e.version, e.lifecycle) for e in published] == [(1, Lifecycle.PAID)]
    record = await service.events.get(results[0].event_id)
    assert record is not None
    assert record["status"] == "published"


async def test_an_older_event_is_recorded_but_does_not_move_the_customer(
    service: IngestService,
) -> None:
    email, customer = f"late.{uuid.uuid4().hex[:8]}@example.com", f"cus_{uuid.uuid4().hex[:14]}"
    now = int(time.time())
    paid = checkout_event(email, customer, created=now)
    failed = {
        "id": f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": "invoice.payment_failed",
        "created": now - 60,
        "data": {
            "object": {
                "id": "in_1",
                "object": "invoice",
                "customer": customer,
                "customer_email": email,
            }
        },
    }
    await service.accept(json.dumps(paid).encode())
    late = await service.accept(json.dumps(failed).encode())
    await service.drain()

    found = await service.customers.find_by_email(email)
    assert found is not None
    assert found.lifecycle is Lifecycle.PAID
    assert found.version == 1
    record = await service.events.get(late.event_id)
    assert record is not None
    assert record["outcome"] == "stale"
