from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from .provider_budget import ProviderBudget

#: `switchboard_provider_requests_total`'s outcomes (`provider_http.call_outcome`)
CALL_OUTCOMES = ("ok", "client_error", "rate_limited", "server_error", "timeout", "connection")


class WorkerMetrics:
    """Metrics of the shared worker loop. Labels are low-cardinality: never an id or email."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.results = Counter(
            "switchboard_sync_results_total",
            "Events processed, by integration and outcome.",
            ["integration", "outcome"],
            registry=registry,
        )
        self.attempts = Counter(
            "switchboard_sync_attempts_total",
            "Attempts at the provider, by integration, action and outcome (ok, retryable, "
            "rate_limited, permanent, auth). `action` is the planned action the attempt executed "
            "or failed at: `read` if it failed reading the provider's state, `none` if there was "
            "nothing to do, `plan` for a shadow run.",
            ["integration", "action", "outcome"],
            registry=registry,
        )
        self.actions = Counter(
            "switchboard_sync_actions_total",
            "Planned actions, by integration, action and outcome (done, shadow, failed).",
            ["integration", "action", "outcome"],
            registry=registry,
        )
        self.retries = Counter(
            "switchboard_sync_retries_total",
            "Retries of a sync, by reason: error (timeout, connection, 408/425/5xx) or rate_limit "
            "(429).",
            ["integration", "reason"],
            registry=registry,
        )
        self.failures = Counter(
            "switchboard_sync_failures_total",
            "Syncs that failed for good and went to the failure topic.",
            ["integration"],
            registry=registry,
        )
        self.auth_errors = Counter(
            "switchboard_sync_auth_errors_total",
            "Provider answers 401/403: a credential or scope problem.",
            ["integration", "status"],
            registry=registry,
        )
        self.stale = Counter(
            "switchboard_sync_stale_skips_total",
            "Events skipped because a newer version was already applied.",
            ["integration"],
            registry=registry,
        )
        self.superseded = Counter(
            "switchboard_sync_superseded_total",
            "Events recorded without a provider call because a newer event of the same customer "
            "was held at the same time (latest state wins).",
            ["integration"],
            registry=registry,
        )
        self.held = Gauge(
            "switchboard_sync_held_events",
            "Events read from Kafka and waiting for (or in) their step, by priority (urgent: "
            "an access removal, scheduled first).",
            ["integration", "priority"],
            registry=registry,
        )
        self.unchanged = Counter(
            "switchboard_sync_unchanged_total",
            "Events synced without a provider call: the desired state equals what the last "
            "synced version established.",
            ["integration"],
            registry=registry,
        )
        self.dedupe_hits = Counter(
            "switchboard_sync_dedupe_hits_total",
            "Events skipped because they were already processed.",
            ["integration"],
            registry=registry,
        )
        self.handed_back = Counter(
            "switchboard_sync_handed_back_total",
            "Messages handed back to Kafka uncommitted, by reason: internal_error (our store or "
            "Kafka failed) or shutdown (the worker stopped while the message waited to retry).",
            ["integration", "reason"],
            registry=registry,
        )
        self.processing = Histogram(
            "switchboard_sync_processing_seconds",
            "Time to process one event, retries included.",
            ["integration"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )
        self.downstream = Histogram(
            "switchboard_downstream_request_seconds",
            "Provider API calls, by integration, route (method and path template) and status.",
            # `route`, not `endpoint`: prometheus-operator puts its own `endpoint` label on every
            # ServiceMonitor target, which would hide ours
            ["integration", "route", "status"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.provider_requests = Counter(
            "switchboard_provider_requests_total",
            "Provider API calls sent, by integration, kind (read: GET; write: any other method) "
            "and outcome (ok, client_error, rate_limited, server_error, timeout, connection).",
            ["integration", "kind", "outcome"],
            registry=registry,
        )
        self.quota_used = Gauge(
            "switchboard_provider_quota_used_ratio",
            "This month's (UTC) provider calls, all replicas, as a fraction of the integration's "
            "monthly quota; only for an integration with a quota.",
            ["integration"],
            registry=registry,
        )
        #: the worker's provider budget (pacing and the month's calls), set by the worker app:
        #: every provider client is handed these metrics, so it finds the budget here
        self.budget: ProviderBudget | None = None
        self.lag = Gauge(
            "switchboard_consumer_lag_messages",
            "Messages not yet committed (log end offset minus committed offset), by consumer "
            "group, topic and partition.",
            ["group", "topic", "partition"],
            registry=registry,
        )

    def start_at_zero(self, integration: str) -> None:
        """Create every series whose label values are known up front, at 0. A counter born at 1
        with the first failure gives `increase()` nothing to compare, so the first failure
        after a start would raise no alert."""
        from libs.contracts import SyncOutcome  # the contracts are pure; imported late, once

        for outcome in [*SyncOutcome, "unreadable"]:
            self.results.labels(integration, str(outcome))
        for reason in ("error", "rate_limit"):
            self.retries.labels(integration, reason)
        for status in ("401", "403"):
            self.auth_errors.labels(integration, status)
        for reason in ("internal_error", "shutdown"):
            self.handed_back.labels(integration, reason)
        self.failures.labels(integration)
        self.stale.labels(integration)
        self.superseded.labels(integration)
        self.dedupe_hits.labels(integration)
        self.unchanged.labels(integration)
        for kind in ("read", "write"):
            for call in CALL_OUTCOMES:
                self.provider_requests.labels(integration, kind, call)
