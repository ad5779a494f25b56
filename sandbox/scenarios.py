"""What each `stripe trigger`-style scenario does to the sandbox's Stripe objects, and the event
it produces. Like `stripe trigger`, a scenario creates whatever it needs first (a customer, a
subscription, a paid charge) when the request does not name an existing customer.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sandbox.stripe import charges, objects
from sandbox.stripe.events import API_VERSION, LEGACY_API_VERSION, RETRY_DELAY_S, event
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


@dataclass
class Outcome:
    event: Obj
    customer: Obj
    subscription: Obj | None = None
    charge: Obj | None = None
    invoice: Obj | None = None


class Scenarios:
    def __init__(
        self, store: StripeStore, now: int, make_id: Callable[[str], str] = new_id
    ) -> None:
        self.store = store
        self.now = now
        self.new_id = make_id

    def run(self, req: TriggerRequest) -> Outcome:
        at = req.created or self.now
        customer = self._customer(req, at)
        handler = getattr(self, f"_{req.scenario}")
        outcome: Outcome = handler(req, customer, at)
        return outcome

    # -- setup -----------------------------------------------------------------------------
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

    # -- scenarios -------------------------------------------------------------------------
    def _purchase(self, req: TriggerRequest, customer: Obj, at: int) -> Outcome:
        subscription, invoice, charge = self._subscribe(req, customer, at)
        session = objects.checkout_session(
            session_id=self.new_id("cs_test"),
            customer_id=customer["id"],
            subscription_id=subscription["id"],
            invoice_id=invoice["id"],
            email=customer["email"],
            created=at,
            amount=req.amount,
        )
        self.store.put(session)
        evt = self._emit("checkout.session.completed", session, at)
        return Outcome(evt, customer, subscription, charge, invoice)

    def _renewal(self, req: TriggerRequest, customer: Obj, at: int) -> Outcome:
        subscription = self._subscription(req, customer, at)
        invoice_id = self.new_id("in")
        invoice, charge = self._paid_invoice(
            req, customer, subscription["id"], invoice_id, at, "cycle"
        )
        subscription.update(status="active", latest_invoice=invoice_id)
        subscription["items"]["data"][0].update(
            current_period_start=at, current_period_end=at + objects.PERIOD_S
        )
        self.store.put(subscription, invoice, charge)
        if not req.legacy:
            return Outcome(
                self._emit("invoice.paid", invoice, at), customer, subscription, charge, invoice
            )
        legacy = objects.legacy_invoice(
            invoice_id=invoice_id,
            customer_id=customer["id"],
            subscription_id=subscription["id"],
            charge_id=charge["id"],
            email=customer["email"],
            created=at,
            billing_reason="subscription_cycle",
            amount=req.amount,
        )
        evt = self._emit("invoice.paid", legacy, at, api_version=LEGACY_API_VERSION)
        return Outcome(evt, customer, subscription, charge, invoice)

    def _payment_failed(self, req: TriggerRequest, customer: Obj, at: int) -> Outcome:
        subscription = self._subscription(req, customer, at)
        invoice = objects.invoice(
            invoice_id=self.new_id("in"),
            customer_id=customer["id"],
            subscription_id=subscription["id"],
            email=customer["email"],
            created=at,
            paid=False,
            next_payment_attempt=at + RETRY_DELAY_S,
            amount=req.amount,
        )
        subscription.update(status="past_due", latest_invoice=invoice["id"])
        self.store.put(subscription, invoice)
        evt = self._emit("invoice.payment_failed", invoice, at)
        return Outcome(evt, customer, subscription, invoice=invoice)

    def _refund(self, req: TriggerRequest, customer: Obj, at: int) -> Outcome:
        charge = self._charge(req, customer, at)
        refunded = charges.refund_in_full(charge, refund_id=self.new_id("re"), created=at)
        self.store.put(refunded)
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        evt = self._emit("charge.refunded", refunded, at, previous_attributes=previous)
        return Outcome(evt, customer, charge=refunded)

    def _dispute(self, req: TriggerRequest, customer: Obj, at: int) -> Outcome:
        charge = self._charge(req, customer, at)
        dispute = charges.dispute(
            dispute_id=self.new_id("dp"),
            charge_id=charge["id"],
            payment_intent_id=charge["payment_intent"],
            created=at,
            amount=charge["amount"],
        )
        charge["disputed"] = True
        self.store.put(charge, dispute)
        return Outcome(self._emit("charge.dispute.created", dispute, at), customer, charge=charge)

    def _change_subscription(
        self, req: TriggerRequest, customer: Obj, at: int, event_type: str, **changes: object
    ) -> Outcome:
        subscription = self._subscription(req, customer, at)
        previous = {k: subscription.get(k) for k in changes}
        subscription.update(changes)
        self.store.put(subscription)
        evt = self._emit(event_type, subscription, at, previous_attributes=previous)
        return Outcome(evt, customer, subscription)

    def _cancel(self, req: TriggerRequest, customer: Obj, at: int) -> Outcome:
        details = {"comment": None, "feedback": None, "reason": "cancellation_requested"}
        outcome = self._change_subscription(
            req,
            customer,
            at,
            "customer.subscription.deleted",
            status="canceled",
            canceled_at=at,
            ended_at=at,
            cancellation_details=details,
        )
        # A deletion event carries no previous_attributes.
        outcome.event["data"].pop("previous_attributes", None)
        return outcome

    def _update(self, req: TriggerRequest, customer: Obj, at: int) -> Outcome:
        kind = "customer.subscription.updated"
        if req.status:
            return self._change_subscription(req, customer, at, kind, status=req.status)
        return self._change_subscription(req, customer, at, kind, cancel_at_period_end=True)

    def _pause(self, req: TriggerRequest, customer: Obj, at: int) -> Outcome:
        kind = "customer.subscription.paused"
        return self._change_subscription(req, customer, at, kind, status="paused")

    def _resume(self, req: TriggerRequest, customer: Obj, at: int) -> Outcome:
        kind = "customer.subscription.resumed"
        return self._change_subscription(req, customer, at, kind, status="active")

    def _email_change(self, req: TriggerRequest, customer: Obj, at: int) -> Outcome:
        new_email = req.new_email or f"sandbox-{secrets.token_hex(4)}@example.com"
        previous = {"email": customer["email"]}
        customer["email"] = new_email
        self.store.put(customer)
        request_id = self.new_id("req")  # a change made through the API or Dashboard
        evt = self._emit(
            "customer.updated", customer, at, previous_attributes=previous, request_id=request_id
        )
        return Outcome(evt, customer)
