"""Retry policy: exponential backoff with full jitter, honouring `Retry-After` up to a cap.

Pure: the random source is passed in, so tests can pin it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .errors import ProviderError


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4  # attempts = retries + 1
    base_seconds: float = 0.2
    max_backoff_seconds: float = 10.0
    max_retry_after_seconds: float = 60.0
    #: how long to back off after a 429 that carries no Retry-After (the provider's window)
    rate_limit_window_seconds: float = 60.0


def retry_delay(
    policy: RetryPolicy, retry_number: int, error: ProviderError, rand: random.Random | None = None
) -> float:
    """Seconds to wait before retry number `retry_number` (1-based) after `error`."""
    rand = rand or random.Random()
    if error.retry_after is not None:
        return min(max(error.retry_after, 0.0), policy.max_retry_after_seconds)
    if error.status == 429:
        # No Retry-After (Circle, Kit): wait out the window, spread so clients don't stampede.
        window = min(policy.rate_limit_window_seconds, policy.max_retry_after_seconds)
        return window * (0.5 + rand.random() / 2)
    ceiling = min(policy.max_backoff_seconds, policy.base_seconds * 2 ** (retry_number - 1))
    return rand.uniform(0, ceiling)
