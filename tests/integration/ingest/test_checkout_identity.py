"""The Checkout Session identity (`checkout:cs_…` → customer, with the time it was recorded) on
the real FerretDB, and the app's status route reading it from there."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry

from libs.contracts.identity import checkout_key
from libs.runtime.clock import now
from libs.runtime.http import make_http_app
from services.ingest.checkout_status import checkout_status_router
from services.ingest.settings import IngestSettings

from .conftest import IngestOnStack
from .test_accept import checkout_event

pytestmark = pytest.mark.integration


def buyer() -> tuple[str, str]:
    return f"cs.{uuid.uuid4().hex[:8]}@example.com", f"cus_{uuid.uuid4().hex[:14]}"


async def test_a_checkout_records_its_session_for_its_customer_once(
    service: IngestOnStack,
) -> None:
    email, stripe_id = buyer()
    event = checkout_event(email, stripe_id)
    session = event["data"]["object"]["id"]
    before = now()
    await service.accept(json.dumps(event).encode())
    await service.drain()

    customer = await service.customers.find_by_email(email)
    assert customer is not None
    recorded = await service.customers.recorded(checkout_key(session))
    assert recorded is not None
    assert recorded.customer_id == customer.customer_id
    # BSON dates keep milliseconds
    assert before - timedelta(milliseconds=1) <= recorded.at <= now()
    assert recorded.at.tzinfo is not None

    # insert-once: nothing moves the key nor renews its time
    held = await service.customers.claim({checkout_key(session): "cust_someone_else"})
    assert held == {checkout_key(session): customer.customer_id}
    assert await service.customers.recorded(checkout_key(session)) == recorded
    assert await service.customers.recorded(checkout_key("cs_test_never_seen")) is None


async def test_checkouts_applied_in_one_batch_each_record_their_session(
    service: IngestOnStack,
) -> None:
    events = [checkout_event(*buyer()) for _ in range(20)]
    await asyncio.gather(*(service.accept(json.dumps(e).encode()) for e in events))
    await service.drain()
    for event in events:
        email = event["data"]["object"]["customer_details"]["email"]
        customer = await service.customers.find_by_email(email)
        recorded = await service.customers.recorded(checkout_key(event["data"]["object"]["id"]))
        assert customer is not None
        assert recorded is not None
        assert recorded.customer_id == customer.customer_id


async def test_the_app_s_route_answers_from_the_store_until_the_answer_expires(
    service: IngestOnStack,
) -> None:
    event = checkout_event(*buyer())
    session = event["data"]["object"]["id"]
    await service.accept(json.dumps(event).encode())
    await service.drain()
    recorded = await service.customers.recorded(checkout_key(session))
    assert recorded is not None

    at = [recorded.at]
    settings = IngestSettings.load(env="local", checkout_status_ttl_seconds=60)
    app = make_http_app(title="ingest", registry=CollectorRegistry(), readiness={})
    app.include_router(checkout_status_router(settings, service.customers, lambda: at[0]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
        answer = await http.get(f"/v1/checkout-sessions/{session}/status")
        assert answer.status_code == 200, answer.text
        assert answer.json()["lifecycle"] == "paid"
        at[0] = recorded.at + timedelta(seconds=60)
        expired = await http.get(f"/v1/checkout-sessions/{session}/status")
        assert expired.status_code == 404
        assert expired.json()["error"] == "not_found"


async def test_checkout_keys_older_than_kept_are_forgotten_and_no_other_key(
    service: IngestOnStack,
) -> None:
    run = uuid.uuid4().hex[:8]
    long_ago, recent = now() - timedelta(days=5), now() - timedelta(hours=1)
    docs = [
        {"_id": checkout_key(f"cs_old_{run}"), "customer_id": "cust_a", "at": long_ago},
        {"_id": checkout_key(f"cs_new_{run}"), "customer_id": "cust_a", "at": recent},
        {"_id": f"email:old.{run}@example.com", "customer_id": "cust_a", "at": long_ago},
        {"_id": f"stripe:cus_{run}", "customer_id": "cust_a", "at": long_ago},
    ]
    await service.customers.identities.insert_many(docs)
    forgotten = await service.customers.forget_checkouts(now() - timedelta(days=3))
    assert forgotten >= 1  # other tests' keys are all recent
    left = await service.customers.find(str(d["_id"]) for d in docs)
    assert sorted(left) == sorted(str(d["_id"]) for d in docs[1:])
