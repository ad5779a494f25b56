"""Stripe webhook events as Stripe sends them (`webhook.py` encodes and signs them).

Pure builders: tests pass every id, email and `created` time, so they can craft duplicates,
out-of-order deliveries and events of old API versions. Secondary ids that a test rarely cares
about (a Checkout Session, a refund, a line item) are derived from the primary ones when omitted.
`sandbox.scenarios` uses the object builders (`objects`, `charges`) directly to
keep its store consistent; this module is the event-level surface.
"""

from __future__ import annotations

from typing import Any

from sandbox.stripe import charges, objects
from sandbox.stripe.objects import DEFAULT_AMOUNT, DEFAULT_PRICE_ID, DEFAULT_PRODUCT_ID, Obj

API_VERSION = "2026-06-24.dahlia"
# A version from before 2025-03-31.basil, when invoices still had a top-level `subscription`.
LEGACY_API_VERSION = "2025-02-24.acacia"
RETRY_DELAY_S = 3 * 24 * 3600


def event(
    event_type: str,
    data_object: Obj,
    *,
    event_id: str,
    created: int,
    previous_attributes: Obj | None = None,
    request_id: str | None = None,
    api_version: str = API_VERSION,
) -> Obj:
    """Wrap a resource in Stripe's v1 ("snapshot") event envelope."""
    envelope = objects.fixture("event")
    data: Obj = {"object": data_object}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    envelope.update(
        id=event_id,
        type=event_type,
        created=created,
        api_version=api_version,
        livemode=False,
        pending_webhooks=1,
        data=data,
        # A null request id means Stripe itself started it (a renewal, a scheduled cancel).
        request={"id": request_id, "idempotency_key": None},
    )
    return envelope


def checkout_session_completed(
    *,
    event_id: str,
    customer_id: str,
    subscription_id: str,
    email: str,
    created: int,
    session_id: str | None = None,
    invoice_id: str | None = None,
    amount: int = DEFAULT_AMOUNT,
    metadata: dict[str, str] | None = None,
) -> Obj:
    session = objects.checkout_session(
        session_id=session_id or objects.derive_id("cs_test", event_id),
        customer_id=customer_id,
        subscription_id=subscription_id,
        invoice_id=invoice_id,
        email=email,
        created=created,
        amount=amount,
        metadata=metadata,
    )
    return event("checkout.session.completed", session, event_id=event_id, created=created)


def invoice_paid(
    *,
    event_id: str,
    invoice_id: str,
    customer_id: str,
    subscription_id: str,
    email: str,
    created: int,
    billing_reason: str = "subscription_cycle",
    amount: int = DEFAULT_AMOUNT,
    price_id: str = DEFAULT_PRICE_ID,
    product_id: str = DEFAULT_PRODUCT_ID,
) -> Obj:
    """`invoice.paid` in the current shape: `parent.subscription_details.subscription`."""
    obj = objects.invoice(
        invoice_id=invoice_id,
        customer_id=customer_id,
        subscription_id=subscription_id,
        email=email,
        created=created,
        billing_reason=billing_reason,
        amount=amount,
        price_id=price_id,
        product_id=product_id,
    )
    return event("invoice.paid", obj, event_id=event_id, created=created)


def invoice_paid_legacy(
    *,
    event_id: str,
    invoice_id: str,
    customer_id: str,
    subscription_id: str,
    email: str,
    created: int,
    charge_id: str | None = None,
    billing_reason: str = "subscription_cycle",
    amount: int = DEFAULT_AMOUNT,
) -> Obj:
    """`invoice.paid` as endpoints pinned before 2025-03-31 get it: top-level `subscription`."""
    obj = objects.legacy_invoice(
        invoice_id=invoice_id,
        customer_id=customer_id,
        subscription_id=subscription_id,
        charge_id=charge_id,
        email=email,
        created=created,
        billing_reason=billing_reason,
        amount=amount,
    )
    return event(
        "invoice.paid", obj, event_id=event_id, created=created, api_version=LEGACY_API_VERSION
    )


def invoice_payment_failed(
    *,
    event_id: str,
    invoice_id: str,
    customer_id: str,
    subscription_id: str,
    email: str,
    created: int,
    attempt_count: int = 1,
    final: bool = False,
    amount: int = DEFAULT_AMOUNT,
) -> Obj:
    """`invoice.payment_failed`; `final=True` means Stripe will not retry (no next attempt)."""
    obj = objects.invoice(
        invoice_id=invoice_id,
        customer_id=customer_id,
        subscription_id=subscription_id,
        email=email,
        created=created,
        paid=False,
        attempt_count=attempt_count,
        next_payment_attempt=None if final else created + RETRY_DELAY_S,
        amount=amount,
    )
    return event("invoice.payment_failed", obj, event_id=event_id, created=created)


def charge_refunded(
    *,
    event_id: str,
    charge_id: str,
    customer_id: str | None,
    email: str | None,
    created: int,
    amount: int = DEFAULT_AMOUNT,
    refund_id: str | None = None,
    payment_intent_id: str | None = None,
) -> Obj:
    """`charge.refunded` for a full refund (`refunded: true`, `amount_refunded == amount`)."""
    paid = charges.charge(
        charge_id=charge_id,
        customer_id=customer_id,
        email=email,
        created=created,
        amount=amount,
        payment_intent_id=payment_intent_id,
    )
    refund_id = refund_id or objects.derive_id("re", event_id)
    obj = charges.refund_in_full(paid, refund_id=refund_id, created=created)
    previous = {"amount_refunded": 0, "refunded": False}
    return event(
        "charge.refunded", obj, event_id=event_id, created=created, previous_attributes=previous
    )


def charge_dispute_created(
    *,
    event_id: str,
    dispute_id: str,
    charge_id: str,
    created: int,
    payment_intent_id: str | None = None,
    amount: int = DEFAULT_AMOUNT,
    reason: str = "fraudulent",
) -> Obj:
    """`charge.dispute.created`: no customer and no email, only the charge to look up."""
    obj = charges.dispute(
        dispute_id=dispute_id,
        charge_id=charge_id,
        payment_intent_id=payment_intent_id,
        created=created,
        amount=amount,
        reason=reason,
    )
    return event("charge.dispute.created", obj, event_id=event_id, created=created)


def _subscription_event(
    event_type: str,
    *,
    event_id: str,
    subscription_id: str,
    customer_id: str,
    created: int,
    status: str,
    started: int | None,
    previous_attributes: Obj | None = None,
    **changes: Any,
) -> Obj:
    obj = objects.subscription(
        subscription_id=subscription_id,
        customer_id=customer_id,
        created=created if started is None else started,
        status=status,
    )
    obj.update(changes)
    return event(
        event_type, obj, event_id=event_id, created=created, previous_attributes=previous_attributes
    )


def customer_subscription_updated(
    *,
    event_id: str,
    subscription_id: str,
    customer_id: str,
    created: int,
    status: str = "active",
    previous_attributes: Obj | None = None,
    cancel_at_period_end: bool = False,
    started: int | None = None,
) -> Obj:
    """`customer.subscription.updated`; carries no email, and `previous_attributes` says what
    changed (by default: the status, from active)."""
    if previous_attributes is None:
        previous_attributes = {"status": "active" if status != "active" else "past_due"}
    return _subscription_event(
        "customer.subscription.updated",
        event_id=event_id,
        subscription_id=subscription_id,
        customer_id=customer_id,
        created=created,
        status=status,
        started=started,
        previous_attributes=previous_attributes,
        cancel_at_period_end=cancel_at_period_end,
    )


def customer_subscription_deleted(
    *,
    event_id: str,
    subscription_id: str,
    customer_id: str,
    created: int,
    started: int | None = None,
    reason: str = "cancellation_requested",
) -> Obj:
    return _subscription_event(
        "customer.subscription.deleted",
        event_id=event_id,
        subscription_id=subscription_id,
        customer_id=customer_id,
        created=created,
        status="canceled",
        started=started,
        canceled_at=created,
        ended_at=created,
        cancellation_details={"comment": None, "feedback": None, "reason": reason},
    )


def customer_subscription_paused(
    *,
    event_id: str,
    subscription_id: str,
    customer_id: str,
    created: int,
    started: int | None = None,
) -> Obj:
    return _subscription_event(
        "customer.subscription.paused",
        event_id=event_id,
        subscription_id=subscription_id,
        customer_id=customer_id,
        created=created,
        status="paused",
        started=started,
        previous_attributes={"status": "active"},
    )


def customer_subscription_resumed(
    *,
    event_id: str,
    subscription_id: str,
    customer_id: str,
    created: int,
    started: int | None = None,
) -> Obj:
    return _subscription_event(
        "customer.subscription.resumed",
        event_id=event_id,
        subscription_id=subscription_id,
        customer_id=customer_id,
        created=created,
        status="active",
        started=started,
        previous_attributes={"status": "paused"},
    )


def customer_updated(
    *,
    event_id: str,
    customer_id: str,
    email: str,
    previous_email: str,
    created: int,
    customer_created: int | None = None,
    name: str | None = None,
) -> Obj:
    """`customer.updated` for an email change; the old address is in `previous_attributes`."""
    obj = objects.customer(
        customer_id=customer_id,
        email=email,
        created=created if customer_created is None else customer_created,
        name=name,
    )
    previous = {"email": previous_email}
    return event(
        "customer.updated", obj, event_id=event_id, created=created, previous_attributes=previous
    )
