"""Stripe payment objects: a charge, the same charge refunded in full, and a dispute on it.

Pure, like `objects`: every id and timestamp is passed in.
"""

from __future__ import annotations

import copy

from sandbox.stripe.objects import DEFAULT_AMOUNT, Obj, derive_id, fixture


def charge(
    *,
    charge_id: str,
    customer_id: str | None,
    email: str | None,
    created: int,
    amount: int = DEFAULT_AMOUNT,
    payment_intent_id: str | None = None,
) -> Obj:
    obj = fixture("charge")
    obj["billing_details"]["email"] = email
    obj["billing_details"]["name"] = None
    obj["refunds"].update(data=[], url=f"/v1/charges/{charge_id}/refunds")
    obj.update(
        id=charge_id,
        customer=customer_id,
        receipt_email=email,
        created=created,
        amount=amount,
        amount_captured=amount,
        amount_refunded=0,
        captured=True,
        refunded=False,
        payment_intent=payment_intent_id or derive_id("pi", charge_id),
        payment_method=derive_id("pm", charge_id),
        balance_transaction=derive_id("txn", charge_id),
        description="Subscription payment",
        source=None,
        transfer_data=None,
        receipt_url=f"https://pay.stripe.com/receipts/payment/{charge_id}",
    )
    obj["outcome"] = {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "approved_by_network",
        "reason": None,
        "risk_level": "normal",
        "seller_message": "Payment complete.",
        "type": "authorized",
    }
    return obj


def refund_in_full(charge_obj: Obj, *, refund_id: str, created: int) -> Obj:
    """The charge after a full refund: `refunded` is true only when all of it was refunded."""
    obj = copy.deepcopy(charge_obj)
    refund = fixture("refund")
    refund.update(
        id=refund_id,
        amount=obj["amount"],
        charge=obj["id"],
        created=created,
        payment_intent=obj["payment_intent"],
        customer=obj["customer"],
        reason="requested_by_customer",
        balance_transaction=derive_id("txn", refund_id),
    )
    obj["refunds"]["data"] = [refund]
    obj["refunds"]["total_count"] = 1
    obj.update(amount_refunded=obj["amount"], refunded=True)
    return obj


def dispute(
    *,
    dispute_id: str,
    charge_id: str,
    payment_intent_id: str | None,
    created: int,
    amount: int = DEFAULT_AMOUNT,
    reason: str = "fraudulent",
) -> Obj:
    """A dispute names only the charge and payment intent: there is no customer on it."""
    obj = fixture("dispute")
    obj["payment_method_details"]["card"].update(case_type="chargeback")
    obj["evidence_details"]["due_by"] = created + 21 * 24 * 3600
    obj.update(
        id=dispute_id,
        charge=charge_id,
        payment_intent=payment_intent_id,
        created=created,
        amount=amount,
        reason=reason,
        status="needs_response",
    )
    return obj
