"""Stripe webhook events as Stripe sends them (`webhook.py` encodes and signs them).

Pure builders: tests pass every id, email and `created` time, so they can craft duplicates,
out-of-order deliveries and events of old API versions. Secondary ids that a test rarely cares
about (a Checkout Session, a refund, a line item) are derived from the primary ones when omitted.
`sandbox.scenarios` uses the object builders (`objects`, `charges`) directly to
keep its store consistent; this module is the event-level surface.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict, Unpack

from sandbox.stripe import charges, objects
from sandbox.stripe.objects import DEFAULT_AMOUNT, Obj

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


class InvoiceRef(TypedDict):
    """What names an invoice in the builders below; the rest of `objects.invoice` has defaults."""

    invoice_id: str
    customer_id: str
    subscription_id: str
    email: str
    created: int
    billing_reason: NotRequired[str]
    amount: NotRequired[int]


class PricedInvoiceRef(InvoiceRef):
    price_id: NotRequired[str]
    product_id: NotRequired[str]


def invoice_paid(*, event_id: str, **invoice: Unpack[PricedInvoiceRef]) -> Obj:
    """`invoice.paid` in the current shape: `parent.subscription_details.subscription`."""
    obj = objects.invoice(**invoice)
    return event("invoice.paid", obj, event_id=event_id, created=invoice["created"])


def invoice_paid_legacy(
    *, event_id: str, charge_id: str | None = None, **invoice: Unpack[InvoiceRef]
) -> Obj:
    """`invoice.paid` as endpoints pinned before 2025-03-31 get it: top-level `subscription`."""
    obj = objects.legacy_invoice(charge_id=charge_id, **invoice)
    created = invoice["created"]
    return event(
        "invoice.paid", obj, event_id=event_id, created=created, api_version=LEGACY_API_VERSION
    )


def invoice_payment_failed(
    *, event_id: str, attempt_count: int = 1, final: bool = False, **invoice: Unpack[InvoiceRef]
) -> Obj:
    """`invoice.payment_failed`; `final=True` means Stripe will not retry (no next attempt)."""
    created = invoice["created"]
    obj = objects.invoice(
        **invoice,
        paid=False,
        attempt_count=attempt_count,
        next_payment_attempt=None if final else created + RETRY_DELAY_S,
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


class SubscriptionRef(TypedDict):
    """What names a subscription event; `started` is the subscription's creation (default: the
    event's)."""

    event_id: str
    subscription_id: str
    customer_id: str
    created: int
    started: NotRequired[int | None]


def _subscription_event(
    event_type: str,
    ref: SubscriptionRef,
    *,
    status: str,
    previous_attributes: Obj | None = None,
    **changes: Any,
) -> Obj:
    started = ref.get("started")
    created = ref["created"]
    obj = objects.subscription(
        subscription_id=ref["subscription_id"],
        customer_id=ref["customer_id"],
        created=created if started is None else started,
        status=status,
    )
    obj.update(changes)
    return event(
        event_type,
        obj,
        event_id=ref["event_id"],
        created=created,
        previous_attributes=previous_attributes,
    )


def customer_subscription_updated(
    *,
    status: str = "active",
    previous_attributes: Obj | None = None,
    cancel_at_period_end: bool = False,
    **ref: Unpack[SubscriptionRef],
) -> Obj:
    """`customer.subscription.updated`; carries no email, and `previous_attributes` says what
    changed (by default: the status, from active)."""
    if previous_attributes is None:
        previous_attributes = {"status": "active" if status != "active" else "past_due"}
    return _subscription_event(
        "customer.subscription.updated",
        ref,
        status=status,
        previous_attributes=previous_attributes,
        cancel_at_period_end=cancel_at_period_end,
    )


def customer_subscription_deleted(
    *, reason: str = "cancellation_requested", **ref: Unpack[SubscriptionRef]
) -> Obj:
    return _subscription_event(
        "customer.subscription.deleted",
        ref,
        status="canceled",
        canceled_at=ref["created"],
        ended_at=ref["created"],
        cancellation_details={"comment": None, "feedback": None, "reason": reason},
    )


def customer_subscription_paused(**ref: Unpack[SubscriptionRef]) -> Obj:
    previous = {"status": "active"}
    return _subscription_event(
        "customer.subscription.paused", ref, status="paused", previous_attributes=previous
    )


def customer_subscription_resumed(**ref: Unpack[SubscriptionRef]) -> Obj:
    previous = {"status": "paused"}
    return _subscription_event(
        "customer.subscription.resumed", ref, status="active", previous_attributes=previous
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
