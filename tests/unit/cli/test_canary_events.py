"""The canary's webhooks: signed as Stripe signs (ingest's own verifier accepts them, a wrong
secret does not), and read by ingest's normalizer as a paid purchase of the canary product and
a full refund of the same customer."""

from __future__ import annotations

import json
import time

import pytest

from libs.contracts import Signal
from services.cli.canary_events import (
    CanaryIds,
    charge_refunded,
    checkout_completed,
    encode,
    sign,
)
from services.ingest.normalize import normalize
from services.ingest.signature import SignatureError, verify_signature

SECRET = "whsec_canary_test"
IDS = CanaryIds.new(
    domain="canary.switchboard.invalid", product="prod_switchboard_canary", now=1_760_000_000
)


def test_every_run_is_the_same_customer_with_ids_of_its_own() -> None:
    other = CanaryIds.new(domain="canary.switchboard.invalid", product="p", now=IDS.created)
    assert IDS.run != other.run
    assert IDS.email == other.email == "canary@canary.switchboard.invalid"
    assert IDS.customer == other.customer
    assert IDS.customer.startswith("cus_canary")
    assert IDS.id("evt") != other.id("evt")
    elsewhere = CanaryIds.new(domain="staging.example.invalid", product="p", now=IDS.created)
    assert elsewhere.customer != IDS.customer  # one customer per address
    assert checkout_completed(IDS) == checkout_completed(IDS)  # pure


def test_the_signature_is_stripes_and_ingests_verifier_accepts_it() -> None:
    body = encode(checkout_completed(IDS))
    now = int(time.time())
    header = sign(body, SECRET, now)
    assert header.startswith(f"t={now},v1=")
    assert verify_signature(body, header, [SECRET], now=now) == now
    assert verify_signature(body, header, ["whsec_rolled", SECRET], now=now) == now
    with pytest.raises(SignatureError) as wrong:
        verify_signature(body, header, ["whsec_other"], now=now)
    assert wrong.value.code == "signature_mismatch"
    with pytest.raises(SignatureError):  # the bytes are what is signed
        verify_signature(body.replace(b"  ", b" "), header, [SECRET], now=now)


def test_the_purchase_reads_as_a_paid_purchase_of_the_canary_product() -> None:
    event = checkout_completed(IDS)
    assert json.loads(encode(event)) == event
    change = normalize(event)
    assert change.event_type == "checkout.session.completed"
    assert change.event_id.startswith("evt_")
    assert change.signal is Signal.PAYMENT_SUCCEEDED
    assert change.email == IDS.email
    assert change.stripe_customer_id == IDS.customer
    assert change.products == ("prod_switchboard_canary",)
    assert change.subscription_id == IDS.id("sub")
    assert change.occurred_at == IDS.created


def test_the_refund_is_a_full_refund_of_the_same_customer_after_the_purchase() -> None:
    event = charge_refunded(IDS, IDS.created + 5)
    change = normalize(event)
    assert change.signal is Signal.REFUNDED
    assert change.stripe_customer_id == IDS.customer
    assert change.email == IDS.email
    assert change.occurred_at == IDS.created + 5
    assert change.event_id != normalize(checkout_completed(IDS)).event_id
    charge = event["data"]["object"]
    assert charge["refunded"] is True
    assert charge["amount_refunded"] == charge["amount"]
    assert event["data"]["previous_attributes"] == {"amount_refunded": 0, "refunded": False}
