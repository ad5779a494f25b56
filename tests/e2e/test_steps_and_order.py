"""Defects the soak found, on the real stack: a refund delivered before its older checkout, a step
pending with no reason, and a store outage answered with plain-text 500s."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
import pytest

from sandbox.stripe.events import charge_refunded, checkout_session_completed
from sandbox.stripe.webhook import encode, sign
from tests.conftest import unique_email

from .conftest import REPO, System, circle_member, wait_for

pytestmark = pytest.mark.e2e

SECRET = "whsec_local_dev_only"
APP = {"Authorization": "Bearer local-app-token"}
INTEGRATIONS = ("circle", "convertkit", "crm")


def post(system: System, event: dict[str, Any]) -> httpx.Response:
    """Deliver as Stripe does: a 5xx (the store briefly away, e.g. just after another test
    restarted the shared FerretDB) is delivered again, a few times."""
    payload = encode(event)
    for _ in range(10):
        response = httpx.post(
            f"{system.ingest}/webhooks/stripe",
            content=payload,
            headers={
                "Stripe-Signature": sign(payload, SECRET, int(time.time())),
                "Content-Type": "application/json",
            },
            timeout=30,
        )
        if response.status_code < 500:
            return response
        time.sleep(1)
    return response


def status(system: System, email: str) -> dict[str, Any] | None:
    response = httpx.get(
        f"{system.ingest}/v1/customers/status", params={"email": email}, headers=APP, timeout=10
    )
    return response.json() if response.status_code == 200 else None


def kit_tags(state: dict[str, Any], email: str) -> set[str] | None:
    for subscriber in state["kit"]["subscribers"]:
        if subscriber["email_address"].lower() == email.lower():
            return set(subscriber["tags"])
    return None


def purchase_and_refund(email: str) -> tuple[dict[str, Any], dict[str, Any]]:
    suffix = uuid.uuid4().hex[:12]
    now = int(time.time())
    checkout = checkout_session_completed(
        event_id=f"evt_co_{suffix}",
        customer_id=f"cus_{suffix}",
        subscription_id=f"sub_{suffix}",
        email=email,
        created=now - 60,
    )
    refund = charge_refunded(
        event_id=f"evt_re_{suffix}",
        charge_id=f"ch_{suffix}",
        customer_id=f"cus_{suffix}",
        email=email,
        created=now - 30,
    )
    return checkout, refund


def test_a_refund_delivered_before_its_checkout_ends_canceled_and_every_step_synced(
    system: System,
) -> None:
    email = unique_email("refund-first")
    checkout, refund = purchase_and_refund(email)
    assert post(system, refund).status_code == 200
    first = wait_for(lambda: status(system, email), what="the customer from the refund")
    assert first["lifecycle"] == "lead"
    # nothing was ever published for this lead: no step is left pending without a reason
    assert all(v["status"] == "synced" for v in first["integrations"].values()), first
    assert post(system, checkout).status_code == 200

    def canceled_and_synced() -> dict[str, Any] | None:
        body = status(system, email)
        synced = body and all(body["integrations"][n]["status"] == "synced" for n in INTEGRATIONS)
        return body if synced and body and body["lifecycle"] == "canceled" else None

    wait_for(canceled_and_synced, timeout=60, what="canceled, synced everywhere")
    state = system.state()
    member = circle_member(state, email)
    assert member is None or "Members" not in member["access_groups"]
    tags = kit_tags(state, email)
    assert tags is not None
    assert "customer" not in tags
    assert "churned" in tags


def test_a_step_waiting_to_retry_is_pending_with_its_reason(system: System) -> None:
    email = unique_email("retrying")
    # Circle answers the first request with 429 and Retry-After 8: the worker waits 8 s.
    system.fault(provider="circle", status=429, retry_after=8, count=1)
    try:
        assert system.trigger("purchase", email=email)["ingest"]["status_code"] == 200

        def retrying() -> dict[str, Any] | None:
            body = status(system, email)
            circle = (body or {}).get("integrations", {}).get("circle", {})
            return circle if circle.get("reason") == "retrying" else None

        circle = wait_for(retrying, timeout=20, what="circle pending with reason retrying")
        assert circle["status"] == "pending"
        assert circle["attempts"] == 1
        assert circle["since"]
        # the ops console (its admin API) shows the same step the same way
        admin = {"Authorization": "Bearer local-admin-token"}
        found = httpx.get(
            f"{system.support}/api/customers", params={"q": email}, headers=admin, timeout=10
        ).json()["customers"]
        page = httpx.get(
            f"{system.support}/api/customers/{found[0]['customer_id']}", headers=admin, timeout=10
        ).json()
        assert page["integrations"]["circle"]["status"] == "pending"
        assert page["integrations"]["circle"]["reason"] == "retrying"
    finally:
        system.clear_faults()
    wait_for(
        lambda: (
            (status(system, email) or {}).get("integrations", {}).get("circle", {}).get("status")
            == "synced"
        ),
        timeout=60,
        what="circle synced after the wait",
    )


def infra(command: str) -> None:
    env = {
        **os.environ,
        "SWITCHBOARD_LOCAL_RUN_DIR": ".run/test",
        "SWITCHBOARD_LOCAL_KAFKA_PORT": "19092",
        "SWITCHBOARD_LOCAL_KAFKA_CONTROLLER_PORT": "19093",
        "SWITCHBOARD_LOCAL_MONGO_PORT": "27018",
    }
    subprocess.run(
        [sys.executable, "-m", "deploy.local", command],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )


def test_a_store_outage_answers_json_503_and_stripe_redelivery_then_succeeds(
    system: System,
) -> None:
    email = unique_email("store-outage")
    checkout, _ = purchase_and_refund(email)
    infra("stop-ferretdb")
    try:
        # ingest restarted while the store is down comes up and answers, instead of crashing
        system.stack.kill("ingest")
        system.stack.restart("ingest", timeout=30)
        during = post(system, checkout)
        looked_up = httpx.get(
            f"{system.ingest}/v1/customers/status",
            params={"email": email},
            headers=APP,
            timeout=30,
        )
    finally:
        infra("start")
    for response in (during, looked_up):
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "store_unavailable"
        assert response.headers["retry-after"]
    # Stripe redelivers a non-2xx: once the store is back, the same event is accepted
    redelivered = wait_for(
        lambda: (r := post(system, checkout)).status_code == 200 and r, 60, "the redelivery"
    )
    assert redelivered.json()["duplicate"] is False
    wait_for(
        lambda: (status(system, email) or {}).get("lifecycle") in ("paid", "active"),
        timeout=60,
        what="the customer paid",
    )
