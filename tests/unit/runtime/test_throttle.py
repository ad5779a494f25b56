"""The throttle: a burst up to the limit passes, the next request waits for its token, keys are
throttled apart, memory is bounded, and the 429 says when to come back."""

from __future__ import annotations

import pytest

from libs.runtime.http import ApiError
from libs.runtime.throttle import Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_up_to_the_limit_passes_then_the_next_waits_for_a_token() -> None:
    clock = Clock()
    throttle = Throttle(10, 60, clock=clock)
    assert [throttle.wait("ip") for _ in range(10)] == [0.0] * 10
    assert throttle.wait("ip") == pytest.approx(6.0)  # one token every 6 s
    clock.now += 6
    assert throttle.wait("ip") == 0.0
    assert throttle.wait("other") == 0.0  # each key has its own bucket


def test_the_429_carries_retry_after() -> None:
    throttle = Throttle(1, 30, name="lookups", clock=Clock())
    throttle.check("ip")
    with pytest.raises(ApiError) as raised:
        throttle.check("ip")
    assert raised.value.status == 429
    assert raised.value.code == "rate_limited"
    assert raised.value.headers == {"Retry-After": "30"}


def test_memory_is_bounded_by_forgetting_the_least_recent_keys() -> None:
    clock = Clock()
    throttle = Throttle(1, 60, clock=clock, max_keys=3)
    for key in ("a", "b", "c", "d"):
        throttle.wait(key)
    assert throttle.wait("a") == 0.0  # forgotten: a full bucket again
    assert throttle.wait("d") > 0


def test_a_limit_of_zero_is_off() -> None:
    throttle = Throttle(0, 60, clock=Clock())
    assert all(throttle.wait("ip") == 0.0 for _ in range(1000))
