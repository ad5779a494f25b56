"""Retry policy: exponential backoff with full jitter, honouring `Retry-After` up to a cap.

Two budgets, because the two kinds of trouble differ:

- errors (timeouts, connection errors, 408/425/5xx): `retries` retries, each after a random
  delay in `[0, min(max_backoff, base * 2**(n-1))]` ("full jitter");
- rate limits (429): the provider asks us to slow down, not to give up. A 429 is retried at
  least `retries` times and then for as long as the total wait stays within
  `rate_limit_budget_seconds`. Without `Retry-After` (Circle, Kit) the wait is the provider's
  window, doubling on repeats, plus a little spread so workers don't come back together.

`Retry-After` wins over both computations, up to `max_retry_after_seconds`.
Pure: the random source is passed in, so tests can pin it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .errors import ProviderError

#: the spread added on top of a rate-limit window wait (10 %: "back at about the same time")
WINDOW_SPREAD = 0.1


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4  # error retries: attempts = retries + 1
    base_seconds: float = 0.2
    max_backoff_seconds: float = 10.0
    max_retry_after_seconds: float = 60.0
    #: how long to back off after a 429 that carries no Retry-After (the provider's window)
    rate_limit_window_seconds: float = 60.0
    #: the longest a message may wait on 429s in total before it fails (after `retries` 429s)
    rate_limit_budget_seconds: float = 240.0


def is_rate_limit(error: ProviderError) -> bool:
    return error.status == 429


def retry_delay(
    policy: RetryPolicy, retry_number: int, error: ProviderError, rand: random.Random | None = None
) -> float:
    """Seconds to wait before retry number `retry_number` after `error`. Retries are counted
    per kind (1-based): the n-th error retry of this message, or its n-th 429."""
    rand = rand or random.Random()
    doublings = min(retry_number - 1, 30)
    backoff_ceiling = min(policy.max_backoff_seconds, policy.base_seconds * 2.0**doublings)
    if error.retry_after is not None:
        # Honoured: never sooner than asked (nor, so a provider answering `Retry-After: 0`
        # again and again is not hammered, sooner than our own backoff), never past the cap.
        wait = max(error.retry_after, backoff_ceiling)
        return min(wait, policy.max_retry_after_seconds)
    if is_rate_limit(error):
        # No Retry-After: wait out the window (that resets it), doubling on repeats.
        wait = policy.rate_limit_window_seconds * 2.0**doublings
        wait *= 1 + WINDOW_SPREAD * rand.random()
        return min(wait, policy.max_retry_after_seconds)
    return rand.uniform(0, backoff_ceiling)


def should_retry(
    policy: RetryPolicy, error: ProviderError, retry_number: int, limit_wait: float
) -> bool:
    """Whether to make retry number `retry_number` (counted per kind, as for `retry_delay`)
    after `error`. `limit_wait` is the total time this message will have waited on 429s,
    the coming wait included."""
    if not error.retryable:
        return False
    if retry_number <= policy.retries:
        return True
    return is_rate_limit(error) and limit_wait <= policy.rate_limit_budget_seconds
