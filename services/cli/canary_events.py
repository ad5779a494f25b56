"""The canary's Stripe webhooks: a completed Checkout Session for a canary customer and the
full refund of its charge, shaped as Stripe sends them (API version 2026-06-24.dahlia; fields
after Stripe's own example objects, stripe/openapi fixtures3.json), and signed as Stripe signs
them. Pure: every id and time comes from `CanaryIds`, so a test can rebuild the same bytes.

The sandbox has richer builders, but the sandbox is not in the production image; this module
is what the CronJob runs, so it keeps its own small copy of the shapes ingest reads."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

API_VERSION = "2026-06-24.dahlia"
#: what the canary "pays": Stripe's smallest usual amount, in cents
AMOUNT = 100
CURRENCY = "usd"


@dataclass(frozen=True)
class CanaryIds:
    """One run's Stripe ids, email and times. Every run buys as the same customer (one per
    address, `canary@<domain>`), as a returning buyer would: the providers then hold one
    member, subscriber and contact for the canary, not one more per run, and a run costs only
    the grant and the revoke (Circle 2 calls, not 3: its monthly quota is small). Every other
    id carries the run, so a run's events and records are found by it."""

    run: str
    email: str
    product: str
    created: int

    @classmethod
    def new(cls, *, domain: str, product: str, now: int, run: str | None = None) -> CanaryIds:
        run = run or f"{now}{secrets.token_hex(4)}"
        return cls(run=run, email=f"canary@{domain}", product=product, created=now)

    def id(self, prefix: str) -> str:
        return f"{prefix}_canary{self.run}"

    @property
    def customer(self) -> str:
        """The Stripe customer: the same for every run at this address."""
        return "cus_canary" + hashlib.sha256(self.email.encode("utf-8")).hexdigest()[:14]


def _event(event_type: str, obj: Obj, *, event_id: str, created: int, **data: Any) -> Obj:
    return {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {"object": obj, **data},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def checkout_completed(ids: CanaryIds) -> Obj:
    """`checkout.session.completed` in subscription mode, paid; the product is named in the
    session's metadata, which is where ingest reads a Checkout Session's product."""
    created = ids.created
    session: Obj = {
        "id": ids.id("cs_test"),
        "object": "checkout.session",
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": AMOUNT,
        "amount_total": AMOUNT,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": None,
        "client_reference_id": f"switchboard-canary-{ids.run}",
        "consent": None,
        "created": created,
        "currency": CURRENCY,
        "customer": ids.customer,
        "customer_creation": "always",
        "customer_details": {
            "address": None,
            "email": ids.email,
            "name": "Switchboard Canary",
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        },
        "customer_email": None,
        "expires_at": created + 24 * 3600,
        "invoice": ids.id("in"),
        "livemode": False,
        "locale": None,
        "metadata": {"product": ids.product, "switchboard_canary": "true"},
        "mode": "subscription",
        "payment_intent": None,
        "payment_link": None,
        "payment_method_types": ["card"],
        "payment_status": "paid",
        "status": "complete",
        "submit_type": None,
        "subscription": ids.id("sub"),
        "success_url": "https://example.com/success",
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": None,
    }
    return _event(
        "checkout.session.completed", session, event_id=ids.id("evt_buy"), created=created
    )


def charge_refunded(ids: CanaryIds, created: int) -> Obj:
    """`charge.refunded` for the whole amount (`refunded: true`): access ends."""
    charge_id = ids.id("ch")
    refund: Obj = {
        "id": ids.id("re"),
        "object": "refund",
        "amount": AMOUNT,
        "balance_transaction": ids.id("txn_re"),
        "charge": charge_id,
        "created": created,
        "currency": CURRENCY,
        "metadata": {},
        "payment_intent": ids.id("pi"),
        "reason": "requested_by_customer",
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    charge: Obj = {
        "id": charge_id,
        "object": "charge",
        "amount": AMOUNT,
        "amount_captured": AMOUNT,
        "amount_refunded": AMOUNT,
        "balance_transaction": ids.id("txn"),
        "billing_details": {"address": None, "email": ids.email, "name": None, "phone": None},
        "captured": True,
        "created": ids.created,
        "currency": CURRENCY,
        "customer": ids.customer,
        "description": "Subscription payment",
        "disputed": False,
        "livemode": False,
        "metadata": {"switchboard_canary": "true"},
        "paid": True,
        "payment_intent": ids.id("pi"),
        "payment_method": ids.id("pm"),
        "receipt_email": ids.email,
        "refunded": True,
        "refunds": {
            "object": "list",
            "data": [refund],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/charges/{charge_id}/refunds",
        },
        "status": "succeeded",
    }
    previous = {"amount_refunded": 0, "refunded": False}
    return _event(
        "charge.refunded",
        charge,
        event_id=ids.id("evt_refund"),
        created=created,
        previous_attributes=previous,
    )


def encode(event: Obj) -> bytes:
    """The body bytes as Stripe sends them (pretty-printed): what is signed is what is sent."""
    return json.dumps(event, indent=2).encode("utf-8")


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header: `t=<unix>,v1=<hex hmac_sha256(secret, "t.body")>`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
