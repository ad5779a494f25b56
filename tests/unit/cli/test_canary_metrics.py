"""The canary's runs as support exports them: the last run's verdict and duration, and the
failures since the last success (what `SwitchboardCanaryFailing` fires on), and when the last
run ended against the interval it ran under (`SwitchboardCanaryStale`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from services.support.canary_metrics import (
    CanaryGauges,
    CanaryRun,
    refresh_once,
    summarize,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def run(i: int, ok: bool, seconds: float = 12.5, every: float = 14400.0) -> CanaryRun:
    started = T0 + timedelta(minutes=15 * i)
    return CanaryRun(
        run_id=f"r{i}",
        ok=ok,
        seconds=seconds,
        started_at=started,
        finished_at=started + timedelta(seconds=seconds),
        steps=({"name": "purchase", "ok": ok},),
        failed_step=None if ok else "access granted",
        error=None if ok else "circle failed after 4 attempts",
        interval_seconds=every,
    )


@dataclass
class Runs:
    runs: list[CanaryRun]

    async def latest(self, limit: int = 100) -> list[CanaryRun]:
        return sorted(self.runs, key=lambda r: r.finished_at, reverse=True)[:limit]


def value(registry: CollectorRegistry, name: str) -> float | None:
    return registry.get_sample_value(name)


def test_no_run_yet_shows_nothing() -> None:
    assert summarize([]) is None


def test_failures_count_back_to_the_last_success() -> None:
    newest_first = [run(4, False), run(3, False), run(2, True), run(1, False)]
    summary = summarize(newest_first)
    assert summary is not None
    assert (summary.success, summary.consecutive_failures) == (False, 2)
    again = summarize([run(5, True), *newest_first])
    assert again is not None
    assert again.consecutive_failures == 0


def test_a_document_round_trips() -> None:
    original = run(1, False, every=900.0)
    assert CanaryRun.from_document(original.document()) == original
    assert original.document()["_id"] == "r1"
    # a run recorded before runs said their interval: the CronJob's default
    older = {k: v for k, v in original.document().items() if k != "interval_seconds"}
    assert CanaryRun.from_document(older).interval_seconds == 14400.0


async def test_the_gauges_show_the_last_run() -> None:
    registry = CollectorRegistry()
    gauges = CanaryGauges(registry)
    await refresh_once(gauges, Runs([]))
    assert value(registry, "switchboard_canary_consecutive_failures") == 0
    assert value(registry, "switchboard_canary_last_run_timestamp_seconds") == 0
    assert value(registry, "switchboard_canary_interval_seconds") == 0

    runs = Runs([run(1, True, 20.0), run(2, False, 180.0), run(3, False, 181.0)])
    await refresh_once(gauges, runs)
    assert value(registry, "switchboard_canary_success") == 0
    assert value(registry, "switchboard_canary_duration_seconds") == 181.0
    assert value(registry, "switchboard_canary_consecutive_failures") == 2
    last = run(3, False, 181.0).finished_at.timestamp()
    assert value(registry, "switchboard_canary_last_run_timestamp_seconds") == last

    assert value(registry, "switchboard_canary_interval_seconds") == 14400.0

    runs.runs.append(run(4, True, 14.0, every=3600.0))  # the schedule was changed
    await refresh_once(gauges, runs)
    assert value(registry, "switchboard_canary_interval_seconds") == 3600.0
    assert value(registry, "switchboard_canary_success") == 1
    assert value(registry, "switchboard_canary_duration_seconds") == 14.0
    assert value(registry, "switchboard_canary_consecutive_failures") == 0
