"""The customer page joins ingest's read model (the customer, its webhooks and the states they
published) with support's own records (timeline, failed steps, incidents and tickets), and the
search finds a customer by what ingest knows or, failing that, by a failed step's event."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from faststream.kafka import TestKafkaBroker

from libs.contracts import SYNC_RESULTS, SyncOutcome, failure_topic
from libs.runtime.http import ApiError
from services.ingest.canonical import CanonicalCustomer
from services.support import views
from services.support.console import templates
from services.support.customer_page import customer_page

from .world import CUSTOMER, T0, World, failure, result

INTEGRATIONS = ["circle", "convertkit", "crm"]


def with_customer(world: World) -> None:
    world.customers.add_customer(
        CanonicalCustomer.model_validate(
            {
                "_id": CUSTOMER,
                "email": "jane@example.com",
                "lifecycle": "paid",
                "version": 4,
                "stripe_customer_id": "cus_J1",
                "subscription_ids": ["sub_J1"],
                "recent_event_ids": ["evt_3", "evt_4"],
            }
        )
    )
    outbox = {"customer_id": CUSTOMER, "lifecycle": "paid", "version": 3}
    world.customers.add_event(
        {
            "_id": "evt_3",
            "provider": "stripe",
            "type": "invoice.paid",
            "status": "published",
            "outcome": "applied",
            "received_at": T0,
            "deliveries": 2,
            "customer_id": CUSTOMER,
            "outbox": json.dumps(outbox),  # an older record: the outbox as a JSON string
        }
    )
    world.customers.add_event(
        {
            "_id": "evt_4",
            "provider": "stripe",
            "type": "customer.updated",
            "status": "published",
            "outcome": "applied",
            "received_at": T0,
            "customer_id": CUSTOMER,
            "outbox": {**outbox, "version": 4},  # a newer one: the document itself
        }
    )


async def test_the_page_joins_ingests_webhooks_with_supports_records() -> None:
    world = World()
    with_customer(world)
    async with TestKafkaBroker(world.broker) as kafka:
        await kafka.publish(failure(3, "evt_3").to_bytes(), failure_topic("circle"))
        await kafka.publish_batch(result(4, "evt_4").to_bytes(), topic=SYNC_RESULTS)
    page = await customer_page(world.customers, world.records, CUSTOMER, INTEGRATIONS)
    assert page["customer"]["email"] == "jane@example.com"
    assert page["customer"]["subscription_ids"] == ["sub_J1"]
    by_event = {e["event_id"]: e for e in page["timeline"]}
    assert set(by_event) == {"evt_3", "evt_4"}
    summaries = [i["summary"] for i in by_event["evt_3"]["items"]]
    assert "Stripe webhook invoice.paid received (2 deliveries)" in summaries
    assert "state → paid (version 3)" in summaries
    assert any(s.startswith("Circle step add_access_group:Members failed") for s in summaries)
    assert any(s.startswith("Zendesk ticket #1 opened") for s in summaries)
    later = [i["summary"] for i in by_event["evt_4"]["items"]]
    assert "state → paid (version 4)" in later
    assert "Zendesk ticket #1 solved: incident resolved" in later
    assert [f["status"] for f in page["failures"]] == ["superseded"]
    assert [(i["integration"], i["status"]) for i in page["incidents"]] == [("circle", "resolved")]
    assert page["integrations"]["circle"]["open_incident"] is None


async def test_an_unknown_customer_is_a_404() -> None:
    world = World()
    with pytest.raises(ApiError) as raised:
        await customer_page(world.customers, world.records, "cust_none", INTEGRATIONS)
    assert raised.value.status == 404


@pytest.mark.parametrize("q", ["jane@example.com", "cus_J1", "sub_J1", "evt_4", CUSTOMER])
async def test_the_search_finds_the_customer_by_what_ingest_knows(q: str) -> None:
    world = World()
    with_customer(world)
    found = await views.search(world.customers, world.records.steps, q)
    assert [(c["customer_id"], c["lifecycle"]) for c in found] == [(CUSTOMER, "paid")]


async def test_the_search_falls_back_to_a_failed_steps_event() -> None:
    world = World()
    with_customer(world)
    async with TestKafkaBroker(world.broker) as kafka:
        await kafka.publish(failure(9, "evt_only_support").to_bytes(), failure_topic("circle"))
    found = await views.search(world.customers, world.records.steps, "evt_only_support")
    assert [c["customer_id"] for c in found] == [CUSTOMER]
    assert await views.search(world.customers, world.records.steps, "evt_nobody") == []


async def test_a_step_waiting_on_the_rate_limit_shows_its_estimate() -> None:
    world = World()
    expected = T0 + timedelta(minutes=8)
    world.customers.add_customer(
        CanonicalCustomer.model_validate(
            {
                "_id": CUSTOMER,
                "email": "jane@example.com",
                "lifecycle": "paid",
                "version": 3,
                "integrations": {
                    "circle": {
                        "status": "waiting",
                        "version": 3,
                        "event_id": "evt_3",
                        "at": T0,
                        "expected_at": expected,
                    }
                },
            }
        )
    )
    waiting = result(3, "evt_3", SyncOutcome.WAITING).model_copy(
        update={"actions": (), "expected_at": expected}
    )
    async with TestKafkaBroker(world.broker) as kafka:
        await kafka.publish_batch(waiting.to_bytes(), topic=SYNC_RESULTS)
    page = await customer_page(world.customers, world.records, CUSTOMER, INTEGRATIONS)
    circle = page["integrations"]["circle"]
    assert (circle["status"], circle["reason"]) == ("pending", "waiting")
    assert circle["expected_at"] == expected.isoformat()
    assert page["integrations"]["crm"]["expected_at"] is None
    (event,) = page["timeline"]
    (item,) = event["items"]
    assert item["outcome"] == "waiting"
    assert item["summary"] == (
        "Circle: waiting — queued behind others under the provider's rate limit, "
        "expected at 2026-03-04T05:14:07"
    )
    html = templates().env.get_template("customer.html").render(**page)
    assert "waiting (expected 2026-03-04T05:14:07) since 2026-03-04T05:06:07" in html
