"""What every trigger scenario starts from: the request, Stripe-shaped ids, and the customer,
subscription, paid invoice and charge a scenario needs, found in the store or made first (as
`stripe trigger` creates what it needs when the request names no existing customer).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sandbox.stripe import charges, objects
from sandbox.stripe.events import API_VERSION, event
from sandbox.stripe.objects import DEFAULT_AMOUNT, DEFAULT_PRICE_ID, DEFAULT_PRODUCT_ID, Obj
from sandbox.stripe.store import StripeStore

Scenario = Literal[
    "purchase",
    "renewal",
    "payment_failed",
    "refund",
    "cancel",
    "dispute",
    "update",
    "pause",
    "resume",
    "email_change",
]
_ALPHABET = string.ascii_letters + string.digits


class TriggerRequest(BaseModel):
    """The body of `POST /_sandbox/stripe/trigger`."""

    model_config = ConfigDict(extra="forbid")

    scenario: Scenario
    email: str | None = None
    customer: str | None = Field(default=None, pattern=r"^cus_\w+$")
    price: str = DEFAULT_PRICE_ID
    product: str = DEFAULT_PRODUCT_ID
    amount: int = Field(default=DEFAULT_AMOUNT, gt=0)
    # The event's `created`; an older value makes an out-of-order delivery.
    created: int | None = Field(default=None, gt=0)
    # `update`: the new subscription status (default: cancel at period end instead).
    status: str | None = None
    # `email_change`: the customer's new address.
    new_email: str | None = None
    # `renewal`: render the invoice as API versions before 2025-03-31 did.
    legacy: bool = False
    # False: build and record the event, but do not send it to ingest.
    deliver: bool = True


def new_id(prefix: str) -> str:
    """A random id shaped like Stripe's: `cus_` + 14 characters, most others `<prefix>_1` + 23."""
    if prefix == "cus":
        return "cus_" + _random(14)
    if prefix == "cs_test":
        return "cs_test_a1" + _random(56)
    return f"{prefix}_1" + _random(23)


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


class Setup:
    """The store and the id source a scenario works with, and the objects it builds on."""

    def __init__(
        self, store: StripeStore, now: int, make_id: Callable[[str], str] = new_id
    ) -> None:
        self.store = store
        self.now = now
        self.new_id = make_id

    def _customer(self, req: TriggerRequest, at: int) -> Obj:
        if req.customer and (found := self.store.get("customer", req.customer)):
            return found
        email = req.email or f"sandbox-{secrets.token_hex(4)}@example.com"
        customer_id = req.customer or self.new_id("cus")
        customer = objects.customer(customer_id=customer_id, email=email, created=at)
        self.store.put(customer)
        return customer

    def _subscribe(self, req: TriggerRequest, customer: Obj, at: int) -> tuple[Obj, Obj, Obj]:
        """A new active subscription with its first paid invoice and charge."""
        sub_id, invoice_id = self.new_id("sub"), self.new_id("in")
        subscription = objects.subscription(
            subscription_id=sub_id,
            customer_id=customer["id"],
            created=at,
            price_id=req.price,
            product_id=req.product,
            amount=req.amount,
            latest_invoice=invoice_id,
        )
        invoice, charge = self._paid_invoice(req, customer, sub_id, invoice_id, at, "create")
        self.store.put(subscription, invoice, charge)
        return subscription, invoice, charge

    def _paid_invoice(
        self, req: TriggerRequest, customer: Obj, sub_id: str, invoice_id: str, at: int, why: str
    ) -> tuple[Obj, Obj]:
        invoice = objects.invoice(
            invoice_id=invoice_id,
            customer_id=customer["id"],
            subscription_id=sub_id,
            email=customer["email"],
            created=at,
            billing_reason=f"subscription_{why}",
            amount=req.amount,
            price_id=req.price,
            product_id=req.product,
        )
        charge = charges.charge(
            charge_id=self.new_id("ch"),
            customer_id=customer["id"],
            email=customer["email"],
            created=at,
            amount=req.amount,
            payment_intent_id=self.new_id("pi"),
        )
        return invoice, charge

    def _subscription(self, req: TriggerRequest, customer: Obj, at: int) -> Obj:
        found = self.store.latest("subscription", customer["id"])
        return found or self._subscribe(req, customer, at)[0]

    def _charge(self, req: TriggerRequest, customer: Obj, at: int) -> Obj:
        found = self.store.latest("charge", customer["id"])
        return found or self._subscribe(req, customer, at)[2]

    def _emit(
        self,
        event_type: str,
        obj: Obj,
        at: int,
        *,
        previous_attributes: Obj | None = None,
        request_id: str | None = None,
        api_version: str = API_VERSION,
    ) -> Obj:
        return event(
            event_type,
            obj,
            event_id=self.new_id("evt"),
            created=at,
            previous_attributes=previous_attributes,
            request_id=request_id,
            api_version=api_version,
        )
