"""The lagged view (`sandbox/replica.py`) on its own, with an injected clock."""

from __future__ import annotations

import pytest

from sandbox.replica import LaggedView


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_new_record_shows_once_the_lag_has_passed() -> None:
    clock = Clock()
    view = LaggedView[str, str](10, clock)
    view.write("a", "v1")
    assert view.as_of() == {}
    assert view.get("a") is None
    clock.now += 9.9
    assert view.as_of() == {}
    clock.now += 0.1
    assert view.as_of() == {"a": "v1"}
    assert view.get("a") == "v1"


def test_a_change_shows_the_older_version_within_the_lag() -> None:
    clock = Clock()
    view = LaggedView[str, str](10, clock)
    view.write("a", "v1")
    clock.now += 20
    view.write("a", "v2")
    clock.now += 5
    assert view.get("a") == "v1"
    clock.now += 5
    assert view.get("a") == "v2"


def test_a_deleted_record_stays_within_the_lag_then_is_forgotten() -> None:
    clock = Clock()
    view = LaggedView[str, str](10, clock)
    view.write("a", "v1")
    clock.now += 20
    view.write("a", None)
    assert view.as_of() == {"a": "v1"}
    clock.now += 10
    assert view.as_of() == {}
    assert view.versions() == 0  # nothing kept of it


def test_history_is_pruned_to_what_the_lag_can_show() -> None:
    clock = Clock()
    view = LaggedView[int, int](5, clock)
    for i in range(1_000):
        view.write(i % 10, i)
        clock.now += 1
    # now 2000, cutoff 1995: key k was last written at 1990 + k, before that at 1980 + k
    assert view.as_of() == {k: 990 + k if k <= 5 else 980 + k for k in range(10)}
    # Per record: the version the cutoff shows, and the one written since (keys 6 to 9)
    assert view.versions() == 10 + 4


def test_no_lag_reads_the_newest_version_and_keeps_only_it() -> None:
    clock = Clock()
    view = LaggedView[str, str](0, clock)
    assert not view.lagging
    view.write("a", "v1")
    view.write("a", "v2")
    assert view.as_of() == {"a": "v2"}
    assert view.versions() == 1


def test_the_lag_can_change_and_never_be_negative() -> None:
    clock = Clock()
    view = LaggedView[str, str](0, clock)
    view.write("a", "v1")
    view.lag_s = 30
    assert view.lagging
    assert view.get("a") is None
    clock.now += 30
    assert view.get("a") == "v1"
    with pytest.raises(ValueError, match="negative"):
        view.lag_s = -1


def test_a_clock_that_steps_back_keeps_the_versions_in_order() -> None:
    clock = Clock()
    view = LaggedView[str, str](10, clock)
    view.write("a", "v1")
    clock.now -= 5
    view.write("a", "v2")
    clock.now += 20
    assert view.get("a") == "v2"


def test_clear_forgets_everything() -> None:
    clock = Clock()
    view = LaggedView[str, str](0, clock)
    view.write("a", "v1")
    view.clear()
    assert view.as_of() == {}
    assert view.versions() == 0
