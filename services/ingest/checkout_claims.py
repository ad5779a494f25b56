"""Forgetting Checkout Session keys once they can answer nothing.

`checkout:<cs_…>` → customer is recorded for every completed Checkout Session, so the app can
ask for its buyer's status by the session id (`checkout_status.py`). The route answers for
`checkout_status_ttl_seconds` only, so a key older than that is dead weight: one per purchase,
forever. Each hour, keys older than the answers' lifetime plus Stripe's redelivery window are
deleted: a key claimed is insert-once, and a `checkout.session.completed` Stripe redelivers
(it retries for up to 3 days) must still find the first one, not record the session anew and
answer for another lifetime."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from libs.runtime.clock import now
from libs.runtime.lifecycle import every
from libs.runtime.logging import get_logger

from .customers import CustomerRepository

log = get_logger()

#: how long Stripe retries a webhook that was not acknowledged
STRIPE_REDELIVERY = timedelta(days=3)
#: how often old keys are looked for
PRUNE_EVERY_SECONDS = 3600.0


def keep_for(ttl_seconds: int) -> timedelta:
    """How long a key is kept: the answers' lifetime, then Stripe's redelivery window."""
    return timedelta(seconds=ttl_seconds) + STRIPE_REDELIVERY


async def prune_once(
    customers: CustomerRepository, keep: timedelta, clock: Callable[[], datetime] = now
) -> int:
    forgotten = await customers.forget_checkouts(clock() - keep)
    if forgotten:
        log.info("checkout_keys_forgotten", count=forgotten)
    return forgotten


async def prune_forever(
    customers: CustomerRepository, keep: timedelta, seconds: float = PRUNE_EVERY_SECONDS
) -> None:
    await every(seconds, lambda: prune_once(customers, keep), failed="checkout_prune_failed")
