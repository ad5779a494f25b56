"""The reconcile benchmark's pure helpers: who is seeded and drifted, what bounds a sweep, and
Circle's monthly-quota view."""

from __future__ import annotations

from bench.reconcile.population import population
from bench.reconcile.report import bound, circle_quota
from libs.contracts import Lifecycle


def test_a_tenth_cancel_and_the_drift_falls_on_active_customers_spread_out() -> None:
    people = population(1000, 0.01, "x")
    assert len(people) == 1000
    assert [p.customer_id for p in people] == sorted(p.customer_id for p in people)
    canceled = [p for p in people if p.lifecycle is Lifecycle.CANCELED]
    assert len(canceled) == 100
    assert all(p.version == 2 for p in canceled)
    drifted = [p for p in people if p.drifted]
    assert len(drifted) == 10
    assert all(p.lifecycle is Lifecycle.ACTIVE for p in drifted)
    assert drifted[-1].index > 800  # spread over the whole range, not the first ten
    assert not any(p.drifted for p in population(50, 0.0, "x"))


def test_the_bound_is_the_largest_part_of_the_time() -> None:
    parts = {
        "provider_pages": 30.0,
        "of_which_pacer_wait": 25.0,
        "ferret_reads": 4.0,
        "ledger_writes": 0.5,
        "judging_and_store": 1.0,
    }
    assert bound(parts) == "pacing"
    assert bound({**parts, "of_which_pacer_wait": 1.0, "ferret_reads": 4.0}) == "answering"
    assert bound({**parts, "provider_pages": 1.0, "of_which_pacer_wait": 0.5}) == "ferret"


def test_circle_sweeps_a_month_fit_the_share_of_the_quota() -> None:
    view = circle_quota(191, 0.2)
    assert view["allowance"] == 1000
    assert view["sweeps_per_month"] == 5  # 1,000 // 191
    assert view["min_interval_seconds"] == 30 * 86400 // 5
    assert circle_quota(2000, 0.2)["min_interval_seconds"] is None  # not even one fits
