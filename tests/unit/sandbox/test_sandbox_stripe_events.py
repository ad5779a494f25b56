from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from sandbox.stripe import events as se
from sandbox.stripe import webhook

CREATED = 1_790_000_000
CUS = "cus_TestCustomer01"
SUB = "sub_1TestSubscription000001"


def hmac_hex(payload: bytes, secret: str, t: int) -> str:
    # Stripe's documented scheme, computed here independently of the code under test.
    return hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()


def assert_envelope(event: dict[str, Any], event_type: str, event_id: str) -> dict[str, Any]:
    assert event["object"] == "event"
    assert event["id"] == event_id
    assert event["type"] == event_type
    assert event["created"] == CREATED
    assert event["livemode"] is False
    assert set(event["request"]) == {"id", "idempotency_key"}
    obj: dict[str, Any] = event["data"]["object"]
    return obj


def test_sign_matches_an_independent_hmac() -> None:
    payload = b'{\n  "id": "evt_1"\n}'
    header = webhook.sign(payload, "whsec_abc", 1_800_000_000)
    assert header == f"t=1800000000,v1={hmac_hex(payload, 'whsec_abc', 1_800_000_000)}"


def test_sign_with_several_secrets_and_v0() -> None:
    payload = b"{}"
    header = webhook.sign(payload, ["whsec_new", "whsec_old"], 42, v0_secret="whsec_test")
    parts = header.split(",")
    assert parts == [
        "t=42",
        f"v1={hmac_hex(payload, 'whsec_new', 42)}",
        f"v1={hmac_hex(payload, 'whsec_old', 42)}",
        f"v0={hmac_hex(payload, 'whsec_test', 42)}",
    ]


def test_encode_is_pretty_json_that_round_trips() -> None:
    event = se.customer_updated(
        event_id="evt_1", customer_id="cus_1", email="b@x.co", previous_email="a@x.co", created=1
    )
    raw = webhook.encode(event)
    assert raw.startswith(b"{\n  ")
    assert json.loads(raw) == event


def test_checkout_session_completed() -> None:
    event = se.checkout_session_completed(
        event_id="evt_1",
        email="jane@example.com",
        created=CREATED,
        customer_id=CUS,
        subscription_id=SUB,
    )
    session = assert_envelope(event, "checkout.session.completed", "evt_1")
    assert event["api_version"] == "2026-06-24.dahlia"
    assert session["object"] == "checkout.session"
    assert session["mode"] == "subscription"
    assert session["payment_status"] == "paid"
    assert session["status"] == "complete"
    assert session["customer"] == CUS
    assert session["subscription"] == SUB
    assert session["customer_details"]["email"] == "jane@example.com"
    assert session["id"].startswith("cs_test_")


def test_invoice_paid_has_the_subscription_under_parent() -> None:
    event = se.invoice_paid(
        event_id="evt_2",
        invoice_id="in_1",
        email="jane@example.com",
        created=CREATED,
        customer_id=CUS,
        subscription_id=SUB,
    )
    invoice = assert_envelope(event, "invoice.paid", "evt_2")
    assert invoice["parent"]["subscription_details"]["subscription"] == SUB
    assert "subscription" not in invoice
    assert invoice["status"] == "paid"
    assert invoice["customer"] == CUS
    assert invoice["customer_email"] == "jane@example.com"
    assert invoice["amount_paid"] == invoice["amount_due"] > 0
    line = invoice["lines"]["data"][0]
    assert line["parent"]["subscription_item_details"]["subscription"] == SUB


def test_legacy_invoice_paid_has_a_top_level_subscription() -> None:
    event = se.invoice_paid_legacy(
        event_id="evt_3",
        invoice_id="in_1",
        email="jane@example.com",
        created=CREATED,
        customer_id=CUS,
        subscription_id=SUB,
    )
    invoice = assert_envelope(event, "invoice.paid", "evt_3")
    assert event["api_version"] == se.LEGACY_API_VERSION
    assert invoice["subscription"] == SUB
    assert "parent" not in invoice


def test_invoice_payment_failed() -> None:
    event = se.invoice_payment_failed(
        event_id="evt_4",
        invoice_id="in_2",
        email="j@x.co",
        created=CREATED,
        attempt_count=2,
        customer_id=CUS,
        subscription_id=SUB,
    )
    invoice = assert_envelope(event, "invoice.payment_failed", "evt_4")
    assert invoice["status"] == "open"
    assert invoice["amount_paid"] == 0
    assert invoice["attempt_count"] == 2
    assert invoice["next_payment_attempt"] > CREATED
    final = se.invoice_payment_failed(
        event_id="evt_5",
        invoice_id="in_2",
        email="j@x.co",
        created=CREATED,
        final=True,
        customer_id=CUS,
        subscription_id=SUB,
    )
    assert final["data"]["object"]["next_payment_attempt"] is None


def test_charge_refunded_in_full() -> None:
    event = se.charge_refunded(
        event_id="evt_6",
        charge_id="ch_1",
        customer_id="cus_1",
        email="j@x.co",
        created=CREATED,
        amount=4900,
    )
    charge = assert_envelope(event, "charge.refunded", "evt_6")
    assert charge["refunded"] is True
    assert charge["amount_refunded"] == charge["amount"] == 4900
    assert charge["customer"] == "cus_1"
    assert charge["billing_details"]["email"] == "j@x.co"
    assert charge["refunds"]["data"][0]["amount"] == 4900
    assert event["data"]["previous_attributes"] == {"amount_refunded": 0, "refunded": False}


def test_dispute_has_no_customer_only_the_charge() -> None:
    event = se.charge_dispute_created(
        event_id="evt_7", dispute_id="dp_1", charge_id="ch_1", created=CREATED
    )
    dispute = assert_envelope(event, "charge.dispute.created", "evt_7")
    assert dispute["object"] == "dispute"
    assert dispute["charge"] == "ch_1"
    assert "customer" not in dispute
    assert "email" not in json.dumps(dispute).replace("customer_email_address", "")


def test_subscription_deleted() -> None:
    event = se.customer_subscription_deleted(
        event_id="evt_8", created=CREATED, customer_id=CUS, subscription_id=SUB
    )
    sub = assert_envelope(event, "customer.subscription.deleted", "evt_8")
    assert sub["status"] == "canceled"
    assert sub["ended_at"] == CREATED
    assert sub["customer"] == CUS
    assert "email" not in sub
    assert (
        sub["items"]["data"][0]["current_period_end"]
        > sub["items"]["data"][0]["current_period_start"]
    )


def test_subscription_updated_paused_resumed() -> None:
    updated = se.customer_subscription_updated(
        event_id="evt_9", created=CREATED, status="past_due", customer_id=CUS, subscription_id=SUB
    )
    assert assert_envelope(updated, "customer.subscription.updated", "evt_9")["status"] == (
        "past_due"
    )
    assert updated["data"]["previous_attributes"] == {"status": "active"}
    paused = se.customer_subscription_paused(
        event_id="evt_10", created=CREATED, customer_id=CUS, subscription_id=SUB
    )
    assert paused["data"]["object"]["status"] == "paused"
    resumed = se.customer_subscription_resumed(
        event_id="evt_11", created=CREATED, customer_id=CUS, subscription_id=SUB
    )
    assert resumed["data"]["object"]["status"] == "active"
    assert resumed["data"]["previous_attributes"] == {"status": "paused"}


def test_customer_updated_keeps_the_old_email() -> None:
    event = se.customer_updated(
        event_id="evt_12",
        customer_id="cus_1",
        email="new@example.com",
        previous_email="old@example.com",
        created=CREATED,
    )
    customer = assert_envelope(event, "customer.updated", "evt_12")
    assert customer["object"] == "customer"
    assert customer["id"] == "cus_1"
    assert customer["email"] == "new@example.com"
    assert event["data"]["previous_attributes"] == {"email": "old@example.com"}


def test_builders_are_pure() -> None:
    def build() -> dict[str, Any]:
        return se.invoice_paid(
            event_id="evt_2",
            invoice_id="in_1",
            email="j@x.co",
            created=CREATED,
            customer_id=CUS,
            subscription_id=SUB,
        )

    assert build() == build()
