"""Stripe event → `StripeChange`: what happened, to whom, in Switchboard's words. Pure.

Each handled type reads the fields Stripe documents for it (providers/stripe-hubspot-zendesk.md,
§1.9). Both invoice shapes are read: from API version 2025-03-31 an invoice's subscription sits
under `parent.subscription_details`, before it was top level.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from libs.contracts import Signal

Obj = dict[str, Any]


class NotAStripeEvent(ValueError):
    """The body parsed, but it is not a Stripe event."""

    code = "not_a_stripe_event"


class BodyNotUtf8(NotAStripeEvent):
    code = "body_not_utf8"


class BodyTooDeep(NotAStripeEvent):
    code = "body_too_deep"


#: the byte order mark: `json.loads(bytes)` skips it, but the body is stored as text and read
#: again later by `json.loads(str)`, which refuses it; Stripe never sends one
_BOM = b"\xef\xbb\xbf"


def require_utf8(raw: bytes) -> None:
    """Stripe sends UTF-8. `json.loads(bytes)` would also guess UTF-16 and UTF-32 and accept
    them, and the raw body, stored as UTF-8 text, would then fail to decode (a 500); refuse
    such a body here with a 400 instead."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyNotUtf8("the body is not UTF-8 text") from None
    if b"\x00" in raw:  # UTF-16 or UTF-32 of ASCII text is valid UTF-8 full of NULs
        raise BodyNotUtf8("the body is not UTF-8 text (it holds NUL bytes: UTF-16 or UTF-32?)")
    if raw.startswith(_BOM):
        raise BodyNotUtf8("the body starts with a byte order mark; send UTF-8 without one")


TOO_DEEP = BodyTooDeep("the body's JSON is nested too deeply")


@dataclass(frozen=True)
class StripeChange:
    event_id: str
    event_type: str
    occurred_at: int  # Stripe's `created`, unix seconds
    signal: Signal
    stripe_customer_id: str | None = None
    email: str | None = None
    name: str | None = None
    previous_email: str | None = None  # customer.updated that changed the address
    subscription_id: str | None = None
    payment_ids: tuple[str, ...] = ()  # charge, payment intent and invoice ids
    charge_id: str | None = None  # a dispute names only its charge
    checkout_session_id: str | None = None  # the app's status lookup (`checkout:cs_…`)
    products: tuple[str, ...] = field(default=())
    handled: bool = True  # False for types Switchboard records but does not act on


def parse_event(body: Obj) -> tuple[str, str, int, Obj]:
    """Check the envelope; return (id, type, created, data.object)."""
    if not isinstance(body, dict) or body.get("object") != "event":
        raise NotAStripeEvent('the body is not a Stripe event (expected "object": "event")')
    event_id, event_type, created = body.get("id"), body.get("type"), body.get("created")
    if not _text(event_id) or not event_id.startswith("evt_"):
        raise NotAStripeEvent("the event has no valid id (expected evt_...)")
    if not _text(event_type):
        raise NotAStripeEvent("the event has no type")
    if not isinstance(created, int) or isinstance(created, bool) or created < 0:
        raise NotAStripeEvent("the event has no valid created time")
    data = body.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise NotAStripeEvent("the event has no data.object")
    return event_id, event_type, created, obj


def _text(value: Any) -> TypeGuard[str]:
    # A lone surrogate ("\\ud800" in the JSON) is not printable: it would fail later, when the
    # id is written to the store (which only takes valid UTF-8), as a 500.
    return isinstance(value, str) and 0 < len(value) <= 255 and value.isprintable()


def normalize(body: Obj) -> StripeChange:
    event_id, event_type, created, obj = parse_event(body)
    base: Obj = {"event_id": event_id, "event_type": event_type, "occurred_at": created}
    reader = _READERS.get(event_type)
    if reader is None:
        fields: Obj = {"signal": Signal.NONE, "handled": False}
        fields["stripe_customer_id"] = stripe_id_of(obj.get("customer"))
        return StripeChange(**base, **fields)
    return StripeChange(**base, **reader(obj, body))


def stripe_id_of(value: Any) -> str | None:
    """Stripe fields may hold an id or, when expanded, the object itself."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return str(value["id"])
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# A field of an unexpected type reads as absent. The envelope was valid, so the event was accepted
# and stored; a crash while applying it would leave an event that is never finished.
def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _ids(*values: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in (stripe_id_of(x) for x in values) if v))


def _checkout(obj: Obj, _: Obj) -> Obj:
    details = _dict(obj.get("customer_details"))
    paid = obj.get("payment_status") in ("paid", "no_payment_required")
    metadata = _dict(obj.get("metadata"))
    return {
        "signal": Signal.PAYMENT_SUCCEEDED if paid else Signal.NONE,
        "stripe_customer_id": stripe_id_of(obj.get("customer")),
        "email": _str(details.get("email")) or _str(obj.get("customer_email")),
        "name": _str(details.get("name")),
        "subscription_id": stripe_id_of(obj.get("subscription")),
        "payment_ids": _ids(obj.get("payment_intent"), obj.get("invoice")),
        "products": _ids(metadata.get("product")),
        "checkout_session_id": stripe_id_of(obj.get("id")),
    }


def _invoice_subscription(obj: Obj) -> str | None:
    details = _dict(_dict(obj.get("parent")).get("subscription_details"))
    return stripe_id_of(details.get("subscription")) or stripe_id_of(obj.get("subscription"))


def _invoice_products(obj: Obj) -> tuple[str, ...]:
    products = []
    for item in _list(_dict(obj.get("lines")).get("data")):
        line = _dict(item)
        price_details = _dict(_dict(line.get("pricing")).get("price_details"))
        price = _dict(line.get("price"))  # before 2025-03-31
        products.append(price_details.get("product") or price.get("product"))
    return _ids(*products)


def _invoice(signal: Signal) -> Callable[[Obj, Obj], Obj]:
    def read(obj: Obj, _: Obj) -> Obj:
        return {
            "signal": signal,
            "stripe_customer_id": stripe_id_of(obj.get("customer")),
            "email": _str(obj.get("customer_email")),
            "name": _str(obj.get("customer_name")),
            "subscription_id": _invoice_subscription(obj),
            "payment_ids": _ids(obj.get("id"), obj.get("payment_intent"), obj.get("charge")),
            "products": _invoice_products(obj),
        }

    return read


_SUBSCRIPTION_STATUS = {
    "active": Signal.SUBSCRIPTION_ACTIVE,
    "trialing": Signal.SUBSCRIPTION_ACTIVE,
    "past_due": Signal.SUBSCRIPTION_PAST_DUE,
    "unpaid": Signal.SUBSCRIPTION_PAST_DUE,
    "paused": Signal.SUBSCRIPTION_PAUSED,
    "canceled": Signal.SUBSCRIPTION_CANCELED,
    "incomplete_expired": Signal.SUBSCRIPTION_CANCELED,
}


def _subscription(signal: Signal | None) -> Callable[[Obj, Obj], Obj]:
    def read(obj: Obj, _: Obj) -> Obj:
        items = _list(_dict(obj.get("items")).get("data"))
        return {
            "signal": signal or _SUBSCRIPTION_STATUS.get(str(obj.get("status")), Signal.NONE),
            "stripe_customer_id": stripe_id_of(obj.get("customer")),
            "subscription_id": stripe_id_of(obj.get("id")),
            "products": _ids(*(_dict(_dict(item).get("price")).get("product") for item in items)),
        }

    return read


def _refund(obj: Obj, _: Obj) -> Obj:
    billing = _dict(obj.get("billing_details"))
    return {
        # `refunded` is true only for a full refund; a partial refund keeps access.
        "signal": Signal.REFUNDED if obj.get("refunded") is True else Signal.NONE,
        "stripe_customer_id": stripe_id_of(obj.get("customer")),
        "email": _str(billing.get("email")) or _str(obj.get("receipt_email")),
        "name": _str(billing.get("name")),
        "payment_ids": _ids(obj.get("id"), obj.get("payment_intent"), obj.get("invoice")),
        "charge_id": stripe_id_of(obj.get("id")),
    }


def _dispute(obj: Obj, _: Obj) -> Obj:
    return {
        "signal": Signal.DISPUTED,
        "payment_ids": _ids(obj.get("charge"), obj.get("payment_intent")),
        "charge_id": stripe_id_of(obj.get("charge")),
    }


def _customer_updated(obj: Obj, body: Obj) -> Obj:
    previous = _dict(_dict(body.get("data")).get("previous_attributes"))
    email, previous_email = _str(obj.get("email")), _str(previous.get("email"))
    if email and previous_email and email.lower() == previous_email.lower():
        previous_email = None  # only the case changed: the same address, not an email change
    return {
        "signal": Signal.NONE,
        "stripe_customer_id": stripe_id_of(obj.get("id")),
        "email": email,
        "name": _str(obj.get("name")),
        "previous_email": previous_email,
    }


_READERS: dict[str, Callable[[Obj, Obj], Obj]] = {
    "checkout.session.completed": _checkout,
    "invoice.paid": _invoice(Signal.PAYMENT_SUCCEEDED),
    "invoice.payment_failed": _invoice(Signal.PAYMENT_FAILED),
    "customer.subscription.updated": _subscription(None),
    "customer.subscription.deleted": _subscription(Signal.SUBSCRIPTION_CANCELED),
    "customer.subscription.paused": _subscription(Signal.SUBSCRIPTION_PAUSED),
    "customer.subscription.resumed": _subscription(Signal.SUBSCRIPTION_RESUMED),
    "charge.refunded": _refund,
    "charge.dispute.created": _dispute,
    "customer.updated": _customer_updated,
}

HANDLED_TYPES = frozenset(_READERS)
