"""The sweep's metrics, on the worker's registry (DESIGN.md, "Reconcile")."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge

from .records import DriftKind, Invariant, SweepRecord

#: which invariants each integration's sweep answers for (the others stay unexported there, so
#: `sum by (invariant)` over the workers counts each once)
INVARIANTS_OF: dict[str, tuple[Invariant, ...]] = {
    "circle": (
        Invariant.PAYING_WITHOUT_ACCESS,
        Invariant.ACCESS_WITHOUT_PAYMENT,
        Invariant.UNKNOWN_WITH_ACCESS,
    ),
    "convertkit": (Invariant.CANCELED_STILL_TAGGED, Invariant.UNKNOWN_WITH_ACCESS),
    "crm": (Invariant.CRM_STAGE_MISMATCH,),
}


class ReconcileMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.drift = Gauge(
            "switchboard_reconcile_drift",
            "Drift the last reconcile sweep found, by kind",
            ["integration", "kind"],
            registry=registry,
        )
        self.last_success = Gauge(
            "switchboard_reconcile_last_success_timestamp_seconds",
            "When the last reconcile sweep finished (unix seconds)",
            ["integration"],
            registry=registry,
        )
        self.invariants = Gauge(
            "switchboard_invariant_violations",
            "Business invariants the last reconcile sweep found broken and left standing "
            "(not repaired: reported, ticketed, a repair pending, or a dry run), by invariant",
            ["invariant"],
            registry=registry,
        )
        self.interval = Gauge(
            "switchboard_reconcile_interval_seconds",
            "How often the worker sweeps on its schedule (0: only on demand)",
            ["integration"],
            registry=registry,
        )
        self.schedule_started = Gauge(
            "switchboard_reconcile_schedule_started_timestamp_seconds",
            "When this worker's sweep schedule started (unix seconds): with no sweep ever "
            "finished, how long one has been due",
            ["integration"],
            registry=registry,
        )
        self.repairs = Counter(
            "switchboard_reconcile_repairs_total",
            "Repair steps reconcile sweeps queued",
            ["integration"],
            registry=registry,
        )
        self.calls = Counter(
            "switchboard_reconcile_calls_total",
            "Provider calls reconcile sweeps spent reading the provider",
            ["integration"],
            registry=registry,
        )

    def start_at_zero(self, integration: str, interval: float = 0.0) -> None:
        """Every series exists from the start (at 0: nothing found yet; the last success 0
        means "never", which `SwitchboardReconcileNeverSwept` measures from the schedule's
        start), so dashboards and alerts see the worker before its first sweep."""
        self.repairs.labels(integration)
        self.calls.labels(integration)
        self.last_success.labels(integration)
        self.interval.labels(integration).set(interval)
        self.schedule_started.labels(integration).set(time.time())
        for kind in DriftKind:
            self.drift.labels(integration, kind.value)
        for invariant in INVARIANTS_OF.get(integration, ()):
            self.invariants.labels(invariant.value)

    def observed(self, integration: str, record: SweepRecord) -> None:
        """A sweep finished: what it found becomes the gauges (a dry run's findings too: it
        read the same truth), and its calls are counted."""
        self.restored(integration, record)
        if record.summary is not None:
            self.calls.labels(integration).inc(record.summary.calls)

    def restored(self, integration: str, record: SweepRecord) -> None:
        """The gauges from a finished sweep (at start: the last one in the store, so a
        restarted worker does not look as if it never swept)."""
        summary = record.summary
        if summary is None:
            return
        for kind in DriftKind:
            self.drift.labels(integration, kind.value).set(summary.found.get(kind.value, 0))
        for invariant in INVARIANTS_OF.get(integration, ()):
            self.invariants.labels(invariant.value).set(record.invariants.get(invariant.value, 0))
        if record.finished_at is not None:
            self.last_success.labels(integration).set(record.finished_at.timestamp())
