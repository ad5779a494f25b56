"""What each `stripe trigger`-style scenario does to the sandbox's Stripe objects, and the event
it produces; what a scenario starts from (the request, a customer, a subscription, a paid charge)
is in `scenario_setup.py`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sandbox.scenario_setup import Setup, TriggerRequest
from sandbox.stripe import charges, objects
from sandbox.stripe.events import LEGACY_API_VERSION, RETRY_DELAY_S
from sandbox.stripe.objects import Obj


@dataclass
class Outcome:
    event: Obj
    customer: Obj
    subscription: Obj | None = None
    charge: Obj | None = None
    invoice: Obj | None = None


class Scenarios(Setup):
    def run(self, req: TriggerRequest) -> Outcome:
        at = req.created or self.now
        customer = self._customer(req, at)
        handler = getattr(self, f"_{req.scenario}")
        outcome: Outcome = handler(req, customer, at)
        return outcome

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
