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
from libs.runtime.retry import RetryPolicy, retry_delay, should_retry

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
    error = error_for_status("kit", 429, "Retry later")
    first = [retry_delay(POLICY, 1, error, rand) for _ in range(200)]
    # the whole window (that resets it), spread by at most 10 % so workers don't return together
    assert min(first) >= 20
    assert max(first) <= 22
    assert max(first) - min(first) > 1


def test_repeated_429s_double_the_window_up_to_the_cap() -> None:
    rand = random.Random(3)
    error = error_for_status("circle", 429, "Retry later")
    policy = RetryPolicy(rate_limit_window_seconds=5, max_retry_after_seconds=30)
    second = retry_delay(policy, 2, error, rand)
    assert 10 <= second <= 11
    assert retry_delay(policy, 6, error, rand) == 30


def test_retry_after_on_a_429_wins_over_the_window() -> None:
    assert retry_delay(POLICY, 1, error_for_status("x", 429, "x", retry_after=3)) == 3


def test_a_retry_after_of_zero_still_backs_off_so_the_budget_ends_the_storm() -> None:
    error = error_for_status("x", 429, "x", retry_after=0)
    delays = [retry_delay(POLICY, n, error) for n in range(1, 6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0]  # our own backoff ceiling, not 0
    assert retry_delay(POLICY, 5000, error) == 4.0  # no overflow however long it lasts
    waited, n = 0.0, 0
    while should_retry(POLICY, error, n + 1, waited + retry_delay(POLICY, n + 1, error)):
        n += 1
        waited += retry_delay(POLICY, n, error)
    assert n < 100


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_permanent_errors_are_never_retried(status: int) -> None:
    error = error_for_status("circle", status, "x")
    assert not should_retry(POLICY, error, 1, 0.0)


@pytest.mark.parametrize("status", [408, 425, 500, 502, 503, 504])
def test_errors_get_exactly_the_configured_retries(status: int) -> None:
    error = error_for_status("circle", status, "x")
    assert [should_retry(POLICY, error, n, 0.0) for n in range(1, 7)] == [
        True,
        True,
        True,
        True,
        False,
        False,
    ]


def test_429s_are_retried_past_the_error_budget_while_the_wait_budget_lasts() -> None:
    error = error_for_status("circle", 429, "Retry later")
    policy = RetryPolicy(retries=3, rate_limit_budget_seconds=100)
    assert should_retry(policy, error, 1, 500.0)  # the first `retries` always happen
    assert should_retry(policy, error, 3, 500.0)
    assert should_retry(policy, error, 9, 99.0)  # then for as long as the budget lasts
    assert not should_retry(policy, error, 9, 101.0)


def test_timeouts_and_connection_errors_are_retryable() -> None:
    for code in ("timeout", "connection"):
        error = TransientProviderError("circle", "x", code=code)
        assert should_retry(POLICY, error, 1, 0.0)
        assert 0 <= retry_delay(POLICY, 1, error, random.Random(4)) <= 0.5


def test_parse_retry_after() -> None:
    assert parse_retry_after("12") == 12
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
