"""Realistic Stripe API objects, built from Stripe's own example objects (`fixtures.json`,
a subset of stripe/openapi's fixtures3.json) with the ids, email and times a test needs.

Pure: every id and timestamp is passed in; nothing reads a clock or a random source. The shapes
are those of API version 2026-06-24.dahlia (an invoice's subscription sits under
`parent.subscription_details`, a subscription's period lives on its items).
"""

from __future__ import annotations

import copy
import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any

DEFAULT_PRICE_ID = "price_1PgafmB7WZ01zgkW6dKueIc5"
DEFAULT_PRODUCT_ID = "prod_QXg1hqf4jFNsqG"
DEFAULT_AMOUNT = 2000
PERIOD_S = 30 * 24 * 3600

Obj = dict[str, Any]


@cache
def _fixtures() -> dict[str, Obj]:
    text = resources.files("sandbox.stripe").joinpath("fixtures.json").read_text("utf-8")
    resources_: dict[str, Obj] = json.loads(text)["resources"]
    return resources_


def fixture(name: str) -> Obj:
    """A fresh copy of Stripe's example object for `name` (e.g. "invoice")."""
    return copy.deepcopy(_fixtures()[name])


def derive_id(prefix: str, seed: str) -> str:
    """A stable id for a secondary object (a line item, a refund), so builders stay pure."""
    return f"{prefix}_{hashlib.sha256(seed.encode()).hexdigest()[:24]}"


def customer(*, customer_id: str, email: str, created: int, name: str | None = None) -> Obj:
    obj = fixture("customer")
    obj.update(id=customer_id, email=email, name=name, created=created, discount=None)
    obj["invoice_prefix"] = hashlib.sha256(customer_id.encode()).hexdigest()[:8].upper()
    return obj


def price(*, price_id: str, product_id: str, amount: int, created: int) -> Obj:
    obj = fixture("price")
    obj.update(id=price_id, product=product_id, unit_amount=amount, created=created)
    obj.update(unit_amount_decimal=str(amount), transform_quantity=None)
    return obj


def subscription(
    *,
    subscription_id: str,
    customer_id: str,
    created: int,
    status: str = "active",
    price_id: str = DEFAULT_PRICE_ID,
    product_id: str = DEFAULT_PRODUCT_ID,
    amount: int = DEFAULT_AMOUNT,
    period_start: int | None = None,
    latest_invoice: str | None = None,
) -> Obj:
    start = created if period_start is None else period_start
    the_price = price(price_id=price_id, product_id=product_id, amount=amount, created=created)
    item = fixture("subscription")["items"]["data"][0]
    item.update(
        id=derive_id("si", subscription_id),
        created=created,
        subscription=subscription_id,
        price=the_price,
        current_period_start=start,
        current_period_end=start + PERIOD_S,
        billing_thresholds=None,
    )
    # `plan` is the legacy mirror of the price that Stripe still sends on items.
    item["plan"] = {
        "id": price_id,
        "object": "plan",
        "active": True,
        "amount": amount,
        "amount_decimal": str(amount),
        "billing_scheme": "per_unit",
        "created": created,
        "currency": "usd",
        "interval": "month",
        "interval_count": 1,
        "livemode": False,
        "metadata": {},
        "meter": None,
        "nickname": None,
        "product": product_id,
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }
    obj = fixture("subscription")
    obj["items"]["data"] = [item]
    obj["items"]["url"] = f"/v1/subscription_items?subscription={subscription_id}"
    obj.update(
        id=subscription_id,
        customer=customer_id,
        created=created,
        start_date=created,
        billing_cycle_anchor=start,
        status=status,
        latest_invoice=latest_invoice,
        cancel_at=None,
        canceled_at=None,
        ended_at=None,
        cancel_at_period_end=False,
        trial_start=None,
        trial_end=None,
        pause_collection=None,
        pending_update=None,
        pending_invoice_item_interval=None,
        next_pending_invoice_item_invoice=None,
        transfer_data=None,
        billing_thresholds=None,
        billing_schedules=[],
        billing_cycle_anchor_config=None,
    )
    obj["cancellation_details"] = {"comment": None, "feedback": None, "reason": None}
    return obj


def invoice(
    *,
    invoice_id: str,
    customer_id: str,
    subscription_id: str,
    email: str,
    created: int,
    paid: bool = True,
    billing_reason: str = "subscription_cycle",
    amount: int = DEFAULT_AMOUNT,
    price_id: str = DEFAULT_PRICE_ID,
    product_id: str = DEFAULT_PRODUCT_ID,
    attempt_count: int = 1,
    next_payment_attempt: int | None = None,
) -> Obj:
    """An invoice in the current shape: its subscription under `parent.subscription_details`."""
    start, end = created, created + PERIOD_S
    line = fixture("invoice")["lines"]["data"][0]
    line.update(
        id=derive_id("il", invoice_id),
        invoice=invoice_id,
        amount=amount,
        subtotal=amount,
        description=f"1 x Membership (at ${amount / 100:.2f} / month)",
        period={"start": start, "end": end},
        subscription=None,
        discountable=True,
    )
    line["parent"] = {
        "invoice_item_details": None,
        "subscription_item_details": {
            "invoice_item": None,
            "proration": False,
            "proration_details": {"credited_items": None},
            "subscription": subscription_id,
            "subscription_item": derive_id("si", subscription_id),
        },
        "type": "subscription_item_details",
    }
    line["pricing"] = {
        "price_details": {"price": price_id, "product": product_id},
        "type": "price_details",
        "unit_amount_decimal": str(amount),
    }
    obj = fixture("invoice")
    obj.pop("subscription", None)  # removed from the top level in 2025-03-31.basil
    obj["lines"].update(data=[line], url=f"/v1/invoices/{invoice_id}/lines")
    obj.update(
        id=invoice_id,
        customer=customer_id,
        customer_email=email,
        created=created,
        effective_at=created,
        period_start=start,
        period_end=end,
        billing_reason=billing_reason,
        amount_due=amount,
        amount_paid=amount if paid else 0,
        amount_remaining=0 if paid else amount,
        amount_overpaid=0,
        subtotal=amount,
        subtotal_excluding_tax=amount,
        total=amount,
        total_excluding_tax=amount,
        attempted=True,
        attempt_count=attempt_count,
        auto_advance=not paid,
        next_payment_attempt=None if paid else next_payment_attempt,
        status="paid" if paid else "open",
        number=f"{invoice_id[-8:].upper()}-0001",
        hosted_invoice_url=f"https://invoice.stripe.com/i/acct_sandbox/{invoice_id}",
        invoice_pdf=f"https://pay.stripe.com/invoice/acct_sandbox/{invoice_id}/pdf",
        due_date=None,
        from_invoice=None,
        last_finalization_error=None,
        shipping_cost=None,
        shipping_details=None,
        webhooks_delivered_at=created,
    )
    obj["status_transitions"] = {
        "finalized_at": created,
        "marked_uncollectible_at": None,
        "paid_at": created if paid else None,
        "voided_at": None,
    }
    obj["parent"] = {
        "quote_details": None,
        "subscription_details": {"metadata": {}, "subscription": subscription_id},
        "type": "subscription_details",
    }
    return obj


def legacy_invoice(*, subscription_id: str, charge_id: str | None = None, **fields: Any) -> Obj:
    """The same invoice as API versions before 2025-03-31 render it: top-level `subscription`
    (and `charge`), no `parent`."""
    obj = invoice(subscription_id=subscription_id, **fields)
    obj.pop("parent")
    obj.update(subscription=subscription_id, charge=charge_id, payment_intent=None)
    for line in obj["lines"]["data"]:
        line.pop("parent", None)
        line.update(type="subscription", subscription=subscription_id)
        line["subscription_item"] = derive_id("si", subscription_id)
    return obj


def checkout_session(
    *,
    session_id: str,
    customer_id: str,
    subscription_id: str,
    invoice_id: str | None,
    email: str,
    created: int,
    amount: int = DEFAULT_AMOUNT,
    metadata: dict[str, str] | None = None,
) -> Obj:
    """A completed Checkout Session in subscription mode."""
    obj = fixture("checkout.session")
    obj["customer_details"].update(email=email, name=None)
    obj.update(
        id=session_id,
        customer=customer_id,
        customer_creation="always",
        customer_email=None,
        subscription=subscription_id,
        invoice=invoice_id,
        payment_intent=None,
        mode="subscription",
        status="complete",
        payment_status="paid",
        created=created,
        expires_at=created + 24 * 3600,
        amount_subtotal=amount,
        amount_total=amount,
        currency="usd",
        metadata=dict(metadata or {}),
        url=None,
        after_expiration=None,
        invoice_creation=None,
        shipping_address_collection=None,
        shipping_cost=None,
        shipping_options=[],
        currency_conversion=None,
        collected_information=None,
        custom_text={
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
    )
    obj["total_details"] = {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0}
    return obj
