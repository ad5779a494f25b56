"""Ingest's read model on the real FerretDB, over records laid out as ingest writes them: the
customer, each webhook's story with the state it published (outbox stored as a JSON string by
older records, as a document by newer ones), and every lookup of the console's search."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from services.ingest.canonical import CanonicalCustomer
from services.ingest.read_model import (
    CustomerReadModel,
    InMemoryCustomerReadModel,
    MongoCustomerReadModel,
)

pytestmark = pytest.mark.integration

AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CUSTOMER: dict[str, Any] = {
    "_id": "cust_rm1",
    "email": "Jane@Example.com",
    "email_lower": "jane@example.com",
    "lifecycle": "paid",
    "version": 3,
    "revision": 4,
    "stripe_customer_id": "cus_RM1",
    "subscription_ids": ["sub_RM1"],
    "payment_ids": ["pi_RM1"],
    "recent_event_ids": ["evt_old", "evt_new"],
}
OUTBOX = {"customer_id": "cust_rm1", "lifecycle": "paid", "version": 3}
EVENTS: list[dict[str, Any]] = [
    {
        "_id": "evt_old",
        "provider": "stripe",
        "type": "invoice.paid",
        "raw": "{}",
        "status": "published",
        "received_at": AT,
        "applied_at": AT,
        "deliveries": 2,
        "customer_id": "cust_rm1",
        "outcome": "applied",
        "outbox": json.dumps(OUTBOX),
    },
    {
        "_id": "evt_new",
        "provider": "stripe",
        "type": "customer.updated",
        "raw": "{}",
        "status": "applied",
        "received_at": AT,
        "customer_id": "cust_rm1",
        "outcome": "applied",
        "outbox": {**OUTBOX, "version": 4},
    },
]


@pytest.fixture(params=["mongo", "fake"])
async def read_model(request: pytest.FixtureRequest, mongo_db: Any) -> CustomerReadModel:
    if request.param == "fake":
        fake = InMemoryCustomerReadModel()
        fake.add_customer(CanonicalCustomer.model_validate(CUSTOMER))
        for doc in EVENTS:
            fake.add_event(doc)
        return fake
    await mongo_db["customers"].insert_one(CUSTOMER)
    await mongo_db["identities"].insert_many(
        [
            {"_id": "stripe:cus_RM1", "customer_id": "cust_rm1"},
            {"_id": "email:jane@example.com", "customer_id": "cust_rm1"},
        ]
    )
    await mongo_db["webhook_events"].insert_many(EVENTS)
    return MongoCustomerReadModel(mongo_db)


async def test_the_customer_is_ingests_canonical_one(read_model: CustomerReadModel) -> None:
    customer = await read_model.customer("cust_rm1")
    assert customer is not None
    assert (customer.email, customer.lifecycle.value, customer.version) == (
        "Jane@Example.com",
        "paid",
        3,
    )
    assert await read_model.customer("cust_none") is None


async def test_webhooks_carry_the_published_state_from_either_outbox_form(
    read_model: CustomerReadModel,
) -> None:
    found = {e.event_id: e for e in await read_model.webhook_events(["evt_old", "evt_new", "x"])}
    assert set(found) == {"evt_old", "evt_new"}
    old, new = found["evt_old"], found["evt_new"]
    assert (old.provider, old.type, old.deliveries, old.status) == (
        "stripe",
        "invoice.paid",
        2,
        "published",
    )
    assert old.published is not None
    assert (old.published.lifecycle, old.published.version) == (
        "paid",
        3,
    )
    assert new.published is not None
    assert new.published.version == 4
    assert await read_model.webhook_events([]) == []


@pytest.mark.parametrize(
    "q",
    [
        "jane@example.com",
        " JANE@example.com ",
        "cus_RM1",
        "sub_RM1",
        "pi_RM1",
        "evt_old",
        "cust_rm1",
    ],
)
async def test_every_lookup_finds_the_customer_once(read_model: CustomerReadModel, q: str) -> None:
    assert await read_model.find_customer_ids(q) == ["cust_rm1"]


async def test_an_unknown_query_finds_nobody(read_model: CustomerReadModel) -> None:
    assert await read_model.find_customer_ids("sub_nobody") == []
    assert await read_model.find_customer_ids("nobody@example.com") == []
