"""The sweep's metrics as the alerts read them: every series from the start (a last success of 0
means "never", measured by `SwitchboardReconcileNeverSwept` from the schedule's start), and a
finished sweep's findings, invariants, time and calls."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from libs.reconcile.metrics import ReconcileMetrics
from libs.reconcile.records import SweepRecord, SweepState, SweepSummary

FINISHED = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_every_series_exists_from_the_start_and_the_schedule_says_when_it_began() -> None:
    registry = CollectorRegistry()
    before = time.time()
    ReconcileMetrics(registry).start_at_zero("circle", interval=3600.0)
    circle = {"integration": "circle"}
    assert value(registry, "switchboard_reconcile_last_success_timestamp_seconds", **circle) == 0
    assert value(registry, "switchboard_reconcile_interval_seconds", **circle) == 3600.0
    started = value(registry, "switchboard_reconcile_schedule_started_timestamp_seconds", **circle)
    assert started is not None
    assert before <= started <= time.time()
    assert value(registry, "switchboard_reconcile_calls_total", **circle) == 0
    assert (
        value(registry, "switchboard_reconcile_drift", integration="circle", kind="missing_access")
        == 0
    )
    assert (
        value(registry, "switchboard_invariant_violations", invariant="paying_without_access") == 0
    )


def test_a_finished_sweep_sets_the_gauges_and_counts_its_calls() -> None:
    registry = CollectorRegistry()
    metrics = ReconcileMetrics(registry)
    metrics.start_at_zero("circle", interval=3600.0)
    summary = SweepSummary(checked=10, found={"missing_access": 2}, repaired=2, calls=7)
    record = SweepRecord(
        sweep_id="sw_1",
        integration="circle",
        state=SweepState.DONE,
        requested_at=FINISHED,
        finished_at=FINISHED,
        summary=summary,
        invariants={"paying_without_access": 1},
    )
    metrics.observed("circle", record)
    metrics.observed("circle", record.model_copy(update={"sweep_id": "sw_2"}))
    circle = {"integration": "circle"}
    assert value(registry, "switchboard_reconcile_last_success_timestamp_seconds", **circle) == (
        FINISHED.timestamp()
    )
    assert (
        value(registry, "switchboard_reconcile_drift", integration="circle", kind="missing_access")
        == 2
    )
    assert (
        value(registry, "switchboard_invariant_violations", invariant="paying_without_access") == 1
    )
    assert value(registry, "switchboard_reconcile_calls_total", **circle) == 14
