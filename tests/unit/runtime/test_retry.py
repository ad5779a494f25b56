from __future__ import annotations

import random

import pytest

from libs.runtime.errors import (
    PermanentProviderError,
    ProviderAuthError,
    TransientProviderError,
    error_for_status,
)
from libs.runtime.provider_http import parse_retry_after
from libs.runtime.retry import RetryPolicy, retry_delay

POLICY = RetryPolicy(
    retries=4,
    base_seconds=0.5,
    max_backoff_seconds=4,
    max_retry_after_seconds=30,
    rate_limit_window_seconds=20,
)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, PermanentProviderError),
        (404, PermanentProviderError),
        (422, PermanentProviderError),
        (401, ProviderAuthError),
        (403, ProviderAuthError),
        (408, TransientProviderError),
        (425, TransientProviderError),
        (429, TransientProviderError),
        (500, TransientProviderError),
        (503, TransientProviderError),
    ],
)
def test_status_classification(status: int, kind: type) -> None:
    error = error_for_status("circle", status, "x")
    assert type(error) is kind
    assert error.retryable is (kind is TransientProviderError)


def test_full_jitter_stays_under_the_exponential_ceiling() -> None:
    rand = random.Random(1)
    error = error_for_status("kit", 503, "x")
    for n, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        delays = [retry_delay(POLICY, n, error, rand) for _ in range(200)]
        assert min(delays) >= 0
        assert max(delays) <= ceiling
        assert max(delays) > ceiling * 0.8  # jitter spreads over the whole range


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    assert retry_delay(POLICY, 1, error_for_status("x", 503, "x", retry_after=7)) == 7
    assert retry_delay(POLICY, 1, error_for_status("x", 429, "x", retry_after=900)) == 30


def test_429_without_retry_after_waits_for_the_provider_window() -> None:
    rand = random.Random(2)
    delays = [
        retry_delay(POLICY, 1, error_for_status("kit", 429, "Retry later"), rand)
        for _ in range(100)
    ]
    assert min(delays) >= 10
    assert max(delays) <= 20


def test_parse_retry_after() -> None:
    assert parse_retry_after("12") == 12
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
