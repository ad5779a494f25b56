"""The identity-key rule, in one place: how ingest records who a customer is, and how support
and the status API look them up. Pure.

A customer is found by its Stripe customer id first, then by its email, compared
case-insensitively and without surrounding blanks. A Checkout Session id (`checkout:cs_…`) also
points at its buyer, recorded with the time it was recorded: the app's status lookup, which
answers for a while only (see `services/ingest/checkout_status.py`).
"""

from __future__ import annotations

import re

#: what a Stripe Checkout Session id looks like (`cs_test_…`, `cs_live_…`)
CHECKOUT_SESSION_ID = re.compile(r"cs_[A-Za-z0-9_]{1,255}")


def stripe_key(stripe_customer_id: str) -> str:
    return f"stripe:{stripe_customer_id}"


def email_key(email: str) -> str:
    return f"email:{email.strip().lower()}"


def checkout_key(checkout_session_id: str) -> str:
    return f"checkout:{checkout_session_id}"


def is_checkout_session_id(value: str) -> bool:
    return CHECKOUT_SESSION_ID.fullmatch(value) is not None


def identity_keys(stripe_customer_id: str | None, email: str | None) -> list[str]:
    """The identity records that point at a customer, in the order they decide."""
    keys = []
    if stripe_customer_id:
        keys.append(stripe_key(stripe_customer_id))
    if email:
        keys.append(email_key(email))
    return keys
