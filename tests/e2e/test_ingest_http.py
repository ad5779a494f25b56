"""Ingest's HTTP contract on the real stack: signatures, bad input, status API, metrics."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from sandbox.stripe.webhook import encode, sign
from tests.conftest import unique_email

from .conftest import System, metrics_url, wait_for

pytestmark = pytest.mark.e2e

SECRET = "whsec_local_dev_only"
APP = {"Authorization": "Bearer local-app-token"}


def post(system: System, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return httpx.post(f"{system.ingest}/webhooks/stripe", content=body, headers=headers, timeout=10)


def status(system: System, email: str, headers: dict[str, str] | None = APP) -> httpx.Response:
    return httpx.get(
        f"{system.ingest}/v1/customers/status", params={"email": email}, headers=headers, timeout=10
    )


def purchase_event(system: System, email: str) -> bytes:
    return encode(system.trigger("purchase", email=email, deliver=False)["event"])


@pytest.mark.parametrize(
    ("make_signature", "code"),
    [
        (lambda body, now: None, "signature_missing"),
        (lambda body, now: f"t={now}", "signature_no_v1"),
        (lambda body, now: sign(body, "whsec_wrong", now), "signature_mismatch"),
        (lambda body, now: sign(body, SECRET, now - 310), "timestamp_too_old"),
        (lambda body, now: sign(body, SECRET, now + 310), "timestamp_in_future"),
        (
            lambda body, now: f"t={now},v0=" + sign(body, SECRET, now).split("v1=")[1],
            "signature_no_v1",
        ),
    ],
)
def test_a_bad_signature_is_refused_with_its_code_and_changes_nothing(
    system: System, make_signature: object, code: str
) -> None:
    email = unique_email("sig")
    body = purchase_event(system, email)
    response = post(system, body, make_signature(body, int(time.time())))  # type: ignore[operator]
    assert response.status_code == 401
    assert response.json()["error"] == code
    assert status(system, email).status_code == 404  # nothing was recorded


def test_a_body_that_is_not_a_stripe_event_is_400(system: System) -> None:
    for body in (b"not json", json.dumps({"hello": "world"}).encode(), b"[]"):
        response = post(system, body, sign(body, SECRET, int(time.time())))
        assert response.status_code == 400, body
        assert response.json()["error"] == "not_a_stripe_event"


def test_a_body_over_one_mebibyte_is_413(system: System) -> None:
    body = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = post(system, body, sign(body, SECRET, int(time.time())))
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_a_rolled_secret_pair_is_accepted(system: System) -> None:
    email = unique_email("roll")
    body = purchase_event(system, email)
    response = post(
        system, body, sign(body, ["whsec_new_not_configured", SECRET], int(time.time()))
    )
    assert response.status_code == 200


def test_an_unknown_event_type_is_accepted_and_recorded(system: System) -> None:
    event = {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": "radar.early_fraud_warning.created",
        "created": int(time.time()),
        "data": {"object": {"id": "issfr_1", "object": "radar.early_fraud_warning"}},
    }
    body = json.dumps(event).encode()
    response = post(system, body, sign(body, SECRET, int(time.time())))
    assert response.status_code == 200
    assert response.json()["duplicate"] is False
    again = post(system, body, sign(body, SECRET, int(time.time())))
    assert again.json()["duplicate"] is True


def test_status_api_needs_a_valid_app_token(system: System) -> None:
    assert status(system, "x@example.com", headers=None).status_code == 401
    assert (
        status(system, "x@example.com", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    assert status(system, "nobody.here@example.com").status_code == 404
    assert status(system, "not-an-email").status_code == 422


def test_status_shows_the_next_step_within_two_seconds_of_checkout(system: System) -> None:
    email = unique_email("status")
    started = time.monotonic()
    system.trigger("purchase", email=email)
    body = wait_for(
        lambda: status(system, email.upper()).status_code == 200 and status(system, email).json(),
        timeout=2.0,
        what="the status API to know the customer",
    )
    elapsed = time.monotonic() - started
    print(f"status API knew the customer after {elapsed:.2f} s")
    assert body["lifecycle"] in ("paid", "active")
    assert body["next_step"].startswith(("Payment received", "You're all set"))
    assert set(body["integrations"]) == {"circle", "convertkit", "crm"}


def test_circle_confirmation_is_recorded_per_integration(system: System) -> None:
    email = unique_email("confirm")
    system.trigger("purchase", email=email)
    wait_for(
        lambda: (
            status(system, email).status_code == 200
            and status(system, email).json()["integrations"]["circle"]["status"] == "synced"
        ),
        what="circle to be confirmed in the status API",
    )


def test_metrics_count_webhooks_by_type_and_outcome(system: System) -> None:
    text = httpx.get(metrics_url("ingest"), timeout=10).text  # /metrics: its own port
    assert (
        'switchboard_ingest_webhooks_total{outcome="accepted",provider="stripe",type="checkout.session.completed"}'
        in text
    )
    assert "switchboard_ingest_webhook_processing_seconds_bucket" in text
    assert "switchboard_ingest_outbox_backlog" in text
