"""The canary's runs (`switchboard canary`, every 4 hours from a CronJob) and the gauges
support exports from them. The command is a short-lived job that Prometheus never scrapes, so
each run is one document in the store's `canary_runs`; every support replica reads the latest
ones periodically and shows them as

- `switchboard_canary_success`: 1 when the last run went all the way through, else 0;
- `switchboard_canary_duration_seconds`: how long the last run took;
- `switchboard_canary_consecutive_failures`: failed runs since the last success (the alert
  `SwitchboardCanaryFailing` fires at 2);
- `switchboard_canary_last_run_timestamp_seconds`: when the last run ended (0: none yet);
- `switchboard_canary_interval_seconds`: how often the runs are meant to come, as the last run
  recorded it (`SWITCHBOARD_CANARY_INTERVAL_SECONDS`: `SwitchboardCanaryStale` fires after 3).

The document shape is the contract between the two; both sides use this module."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Gauge
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from libs.runtime.lifecycle import every
from libs.runtime.logging import get_logger

Document = dict[str, Any]

COLLECTION = "canary_runs"
#: the runs read per refresh: more than any failure streak worth counting exactly
READ_LIMIT = 100
#: runs older than this are deleted when a new one is recorded (6 runs a day at 4 hours, 96
#: at 15 minutes)
KEEP = timedelta(days=14)
#: how often support reads the runs again
REFRESH_SECONDS = 15.0
#: the CronJob's schedule (every 4 hours) when a run does not say
DEFAULT_INTERVAL_SECONDS = 14400.0

log = get_logger()


@dataclass(frozen=True)
class CanaryRun:
    run_id: str
    ok: bool
    seconds: float
    started_at: datetime
    finished_at: datetime
    #: each step as the command's JSON line has it: name, ok, seconds, detail
    steps: tuple[dict[str, Any], ...] = ()
    #: the first step that failed, and why
    failed_step: str | None = None
    error: str | None = None
    #: the schedule's interval the run was started under
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS

    def document(self) -> Document:
        return {
            "_id": self.run_id,
            "ok": self.ok,
            "seconds": self.seconds,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "steps": list(self.steps),
            "failed_step": self.failed_step,
            "error": self.error,
            "interval_seconds": self.interval_seconds,
        }

    @classmethod
    def from_document(cls, doc: Document) -> CanaryRun:
        return cls(
            run_id=str(doc["_id"]),
            ok=bool(doc.get("ok")),
            seconds=float(doc.get("seconds") or 0.0),
            started_at=doc["started_at"],
            finished_at=doc["finished_at"],
            steps=tuple(doc.get("steps") or ()),
            failed_step=doc.get("failed_step"),
            error=doc.get("error"),
            interval_seconds=float(doc.get("interval_seconds") or DEFAULT_INTERVAL_SECONDS),
        )


class CanaryRuns:
    """`canary_runs` on the store."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[COLLECTION]

    async def record(self, run: CanaryRun) -> None:
        await self.collection.insert_one(run.document())
        await self.collection.delete_many({"finished_at": {"$lt": run.finished_at - KEEP}})

    async def latest(self, limit: int = READ_LIMIT) -> list[CanaryRun]:
        """Newest first."""
        cursor = self.collection.find({}).sort("finished_at", DESCENDING).limit(limit)
        return [CanaryRun.from_document(doc) async for doc in cursor]


class RunSource(Protocol):
    async def latest(self, limit: int = READ_LIMIT) -> list[CanaryRun]: ...


@dataclass(frozen=True)
class CanarySummary:
    success: bool
    seconds: float
    consecutive_failures: int
    finished_at: datetime
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS


def summarize(runs: list[CanaryRun]) -> CanarySummary | None:
    """What the gauges show, from runs newest first (None: no run yet)."""
    if not runs:
        return None
    failures = 0
    for run in runs:
        if run.ok:
            break
        failures += 1
    last = runs[0]
    return CanarySummary(last.ok, last.seconds, failures, last.finished_at, last.interval_seconds)


class CanaryGauges:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.success = Gauge(
            "switchboard_canary_success",
            "1 when the last canary run (a test purchase and refund through every "
            "integration) went all the way through, else 0.",
            registry=registry,
        )
        self.duration = Gauge(
            "switchboard_canary_duration_seconds",
            "How long the last canary run took, purchase to access removed.",
            registry=registry,
        )
        self.consecutive_failures = Gauge(
            "switchboard_canary_consecutive_failures",
            "Canary runs that failed since the last one that passed.",
            registry=registry,
        )
        self.last_run = Gauge(
            "switchboard_canary_last_run_timestamp_seconds",
            "When the last canary run ended (unix time); 0 when none ran yet.",
            registry=registry,
        )
        self.interval = Gauge(
            "switchboard_canary_interval_seconds",
            "How often canary runs are meant to come (the last run's "
            "SWITCHBOARD_CANARY_INTERVAL_SECONDS); 0 when none ran yet.",
            registry=registry,
        )

    def show(self, summary: CanarySummary | None) -> None:
        if summary is None:
            return
        self.success.set(1 if summary.success else 0)
        self.duration.set(summary.seconds)
        self.consecutive_failures.set(summary.consecutive_failures)
        self.last_run.set(summary.finished_at.timestamp())
        self.interval.set(summary.interval_seconds)


async def refresh_once(gauges: CanaryGauges, runs: RunSource) -> None:
    gauges.show(summarize(await runs.latest()))


async def refresh_forever(
    gauges: CanaryGauges, runs: RunSource, interval: float = REFRESH_SECONDS
) -> None:
    await every(interval, lambda: refresh_once(gauges, runs), failed="canary_refresh_failed")
