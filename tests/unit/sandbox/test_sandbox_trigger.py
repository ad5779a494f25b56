from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI

from sandbox.app import create_app
from sandbox.trigger import one_line
from tests.unit.sandbox.conftest import STRIPE, FakeIngest, client_for, make_settings, state

FIRST_SECRET = "whsec_first_secret"


async def trigger(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/_sandbox/stripe/trigger", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def verify(request: httpx.Request, secret: str) -> None:
    """Check the signature the way Stripe documents it, independently of the sandbox."""
    items = [item.split("=", 1) for item in request.headers["stripe-signature"].split(",")]
    timestamp = next(v for k, v in items if k == "t")
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + request.content, hashlib.sha256
    ).hexdigest()
    assert [v for k, v in items if k == "v1"] == [expected]
    assert abs(int(timestamp) - time.time()) < 60


async def test_purchase_is_signed_and_delivered(
    client: httpx.AsyncClient, ingest: FakeIngest
) -> None:
    result = await trigger(client, scenario="purchase", email="jane@example.com")
    [request] = ingest.requests
    assert str(request.url) == "http://ingest.test/webhooks/stripe"
    verify(request, FIRST_SECRET)
    event = json.loads(request.content)
    assert event == result["event"]
    assert event["type"] == "checkout.session.completed"
    assert event["id"].startswith("evt_")
    assert event["data"]["object"]["customer"] == result["customer_id"]
    assert result["ingest"] == {
        "url": "http://ingest.test/webhooks/stripe",
        "status_code": 200,
        "body": {"received": True},
    }


async def test_purchase_objects_can_be_read_back(client: httpx.AsyncClient) -> None:
    result = await trigger(client, scenario="purchase", email="jane@example.com")
    customer = await client.get(f"/stripe/v1/customers/{result['customer_id']}", headers=STRIPE)
    assert customer.status_code == 200
    assert customer.json()["email"] == "jane@example.com"
    charge = await client.get(f"/stripe/v1/charges/{result['charge_id']}", headers=STRIPE)
    assert charge.json()["customer"] == result["customer_id"]
    sub = await client.get(f"/stripe/v1/subscriptions/{result['subscription_id']}", headers=STRIPE)
    assert sub.json()["status"] == "active"


async def test_missing_stripe_object_is_resource_missing(client: httpx.AsyncClient) -> None:
    response = await client.get("/stripe/v1/charges/ch_nope", headers=STRIPE)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "resource_missing"
    assert error["type"] == "invalid_request_error"
    assert error["message"] == "No such charge: 'ch_nope'"


async def test_scenarios_continue_with_the_same_customer(client: httpx.AsyncClient) -> None:
    purchase = await trigger(client, scenario="purchase", email="jane@example.com")
    customer = purchase["customer_id"]

    renewal = await trigger(client, scenario="renewal", customer=customer)
    invoice = renewal["event"]["data"]["object"]
    assert renewal["event_type"] == "invoice.paid"
    assert invoice["parent"]["subscription_details"]["subscription"] == purchase["subscription_id"]

    refund = await trigger(client, scenario="refund", customer=customer)
    assert refund["event"]["data"]["object"]["refunded"] is True
    assert refund["customer_id"] == customer

    dispute = await trigger(client, scenario="dispute", customer=customer)
    disputed = dispute["event"]["data"]["object"]
    assert "customer" not in disputed
    charge = await client.get(f"/stripe/v1/charges/{disputed['charge']}", headers=STRIPE)
    assert charge.json()["customer"] == customer  # how ingest finds who disputed

    cancel = await trigger(client, scenario="cancel", customer=customer)
    assert cancel["event_type"] == "customer.subscription.deleted"
    assert cancel["event"]["data"]["object"]["id"] == purchase["subscription_id"]
    assert cancel["event"]["data"]["object"]["status"] == "canceled"


async def test_other_scenarios(client: httpx.AsyncClient) -> None:
    customer = (await trigger(client, scenario="purchase", email="a@example.com"))["customer_id"]
    expected = {
        "payment_failed": "invoice.payment_failed",
        "update": "customer.subscription.updated",
        "pause": "customer.subscription.paused",
        "resume": "customer.subscription.resumed",
    }
    for scenario, event_type in expected.items():
        result = await trigger(client, scenario=scenario, customer=customer)
        assert result["event_type"] == event_type
        assert result["customer_id"] == customer
    change = await trigger(
        client, scenario="email_change", customer=customer, new_email="b@example.com"
    )
    assert change["event"]["data"]["previous_attributes"] == {"email": "a@example.com"}
    read = await client.get(f"/stripe/v1/customers/{customer}", headers=STRIPE)
    assert read.json()["email"] == "b@example.com"


async def test_legacy_renewal_and_explicit_created(client: httpx.AsyncClient) -> None:
    result = await trigger(client, scenario="renewal", legacy=True, created=1_700_000_000)
    event = result["event"]
    assert event["created"] == 1_700_000_000
    assert event["data"]["object"]["subscription"] == result["subscription_id"]
    assert "parent" not in event["data"]["object"]


async def test_without_delivery_nothing_is_posted(
    client: httpx.AsyncClient, ingest: FakeIngest
) -> None:
    result = await trigger(client, scenario="purchase", deliver=False)
    assert result["ingest"] is None
    assert ingest.requests == []
    assert (await state(client))["stripe"]["events"][0]["id"] == result["event_id"]


async def test_unreachable_ingest_is_502() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    app = create_app(make_settings(), ingest_transport=httpx.MockTransport(refuse))
    async with client_for(app) as client:
        response = await client.post("/_sandbox/stripe/trigger", json={"scenario": "purchase"})
    assert response.status_code == 502
    assert response.json()["error"] == "ingest_unreachable"


async def test_invalid_trigger_is_422(app_factory: Callable[..., FastAPI]) -> None:
    async with client_for(app_factory()) as client:
        response = await client.post("/_sandbox/stripe/trigger", json={"scenario": "teleport"})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_trigger"
    assert "scenario" in response.json()["message"]


def test_one_line_summary() -> None:
    line = one_line(
        {
            "scenario": "purchase",
            "event_id": "evt_1",
            "event_type": "checkout.session.completed",
            "customer_id": "cus_1",
            "email": "jane@example.com",
            "ingest": {"status_code": 200, "body": {"status": "accepted"}},
        }
    )
    assert line == (
        "purchase: evt_1 (checkout.session.completed) customer=cus_1 email=jane@example.com "
        '-> ingest 200 {"status": "accepted"}'
    )
