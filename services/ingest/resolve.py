"""Finding the customer of a change the identities alone do not settle: an email change, an
unhandled type, or an event that lacks what identifies its customer (the Stripe API is asked).
One internal customer per Stripe customer; a new one is claimed here, written by the apply."""

from __future__ import annotations

from dataclasses import dataclass

from libs.contracts.identity import email_key, stripe_key

from .customers import CustomerRepository, new_customer_id
from .normalize import StripeChange, stripe_id_of
from .pipeline import Seed
from .stripe_api import StripeApi


async def _owner(
    customers: CustomerRepository, stripe_id: str | None, email: str | None
) -> str | None:
    keys = [k for k in (stripe_id and stripe_key(stripe_id), email and email_key(email)) if k]
    found = await customers.find(keys)
    return next((found[k] for k in keys if k in found), None)


@dataclass(frozen=True)
class Resolved:
    customer_id: str
    #: what the customer record starts from if it is not written yet
    seed: Seed


async def resolve_customer(
    change: StripeChange, customers: CustomerRepository, stripe: StripeApi
) -> Resolved | None:
    stripe_id, email = change.stripe_customer_id, change.email
    seed = Seed(email or "", stripe_id)
    # an email that moves: the customer is the Stripe id's, not the new address's
    if change.previous_email and stripe_id and (found := await _owner(customers, stripe_id, None)):
        return Resolved(found, seed)
    if found := await _owner(customers, stripe_id, email):
        if stripe_id:
            await customers.claim({stripe_key(stripe_id): found})
        return Resolved(found, seed)
    if not stripe_id and change.charge_id:
        charge = await stripe.charge(change.charge_id) or {}
        stripe_id = stripe_id_of(charge.get("customer"))
        email = email or (charge.get("billing_details") or {}).get("email")
    if stripe_id and not email:
        if found := await _owner(customers, stripe_id, None):
            return Resolved(found, seed)
        email = (await stripe.customer(stripe_id) or {}).get("email")
    if not email:
        return None
    seed = Seed(email, stripe_id)
    if found := await _owner(customers, stripe_id, email):
        return Resolved(found, seed)
    owner = new_customer_id()
    if stripe_id:
        owner = (await customers.claim({stripe_key(stripe_id): owner}))[stripe_key(stripe_id)]
    return Resolved((await customers.claim({email_key(email): owner}))[email_key(email)], seed)
