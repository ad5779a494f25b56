"""The identity-key rule, in one place: how ingest records who a customer is, and how support
and the status API look them up. Pure.

A customer is found by its Stripe customer id first, then by its email, compared
case-insensitively and without surrounding blanks.
"""

from __future__ import annotations


def stripe_key(stripe_customer_id: str) -> str:
    return f"stripe:{stripe_customer_id}"


def email_key(email: str) -> str:
    return f"email:{email.strip().lower()}"


def identity_keys(stripe_customer_id: str | None, email: str | None) -> list[str]:
    """The identity records that point at a customer, in the order they decide."""
    keys = []
    if stripe_customer_id:
        keys.append(stripe_key(stripe_customer_id))
    if email:
        keys.append(email_key(email))
    return keys
