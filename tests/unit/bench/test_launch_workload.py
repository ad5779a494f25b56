"""The launch benchmark's pure helpers: the quota bound, the percentile, access removal."""

from __future__ import annotations

from bench.launch.workload import access_removed, bounds, percentile
from bench.soak.verdicts import Providers


def test_the_bound_is_the_least_calls_at_the_slowest_published_rate() -> None:
    slowest, *rest = bounds(1000, 20)
    assert slowest.provider == "kit"
    assert slowest.calls == 2 * 1000 + 2 * 20
    assert slowest.seconds == 2040 / (120 / 60)  # 1,020 s
    by = {b.provider: b for b in rest}
    assert by["circle"].calls == 2020
    assert by["circle"].seconds == 2020 / (2000 / 300)
    assert by["hubspot"].calls == 10 + 20  # batched: 100 purchases per call


def test_percentile_is_a_measured_value_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 50) == 10.0
    assert percentile(values, 99) == 20.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None


def test_access_is_removed_only_when_circle_and_kit_both_let_go() -> None:
    p = Providers()
    p.members["a@x"].append({"access_groups": []})
    p.subscribers["a@x"].append({"tags": ["churned"]})
    assert access_removed("a@x", p)
    p.subscribers["a@x"][0]["tags"].append("customer")
    assert not access_removed("a@x", p)
    p.members["b@x"].append({"access_groups": ["Members"]})
    assert not access_removed("b@x", p)
