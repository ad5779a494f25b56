"""The dashboard's panels, row by row: every query written once. `render.py` lays them out
into dashboard.json."""

from __future__ import annotations

from typing import Any

NS = 'namespace="$namespace"'


def target(expr: str, legend: str) -> dict[str, Any]:
    return {"expr": expr, "legendFormat": legend, "datasource": {"uid": "${datasource}"}}


def panel(
    title: str, targets: list[dict[str, Any]], unit: str, description: str, kind: str = "timeseries"
) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": {"uid": "${datasource}"},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["max"]}}
        if kind == "timeseries"
        else {"reduceOptions": {"calcs": ["lastNotNull"]}},
        "targets": targets,
    }


def quantiles(metric: str, by: str, legend_prefix: str) -> list[dict[str, Any]]:
    return [
        target(
            f"histogram_quantile({q}, sum by ({by}) (rate({metric}_bucket{{{NS}}}[5m])))",
            f"{legend_prefix}p{int(q * 100)}",
        )
        for q in (0.5, 0.95, 0.99)
    ]


def newest_sweep(selector: str) -> str:
    """`selector`'s series from each worker's replica with the newest reconcile sweep: one
    replica sweeps at a time and each keeps exporting what its own last sweep found."""
    last = f"switchboard_reconcile_last_success_timestamp_seconds{{{NS}}}"
    return (
        f"{selector} and on (job, instance) "
        f"({last} == on (job) group_left () max by (job) ({last}))"
    )


ROWS: list[tuple[str, list[dict[str, Any]]]] = [
    (
        "Ingest",
        [
            panel(
                "Webhooks per second by type and outcome",
                [
                    target(
                        "sum by (type, outcome) "
                        f"(rate(switchboard_ingest_webhooks_total{{{NS}}}[5m]))",
                        "{{type}} {{outcome}}",
                    )
                ],
                "reqps",
                "Outcomes: accepted, duplicate, or why it was refused (signature_*, "
                "timestamp_*, not_a_stripe_event, payload_too_large).",
            ),
            panel(
                "Webhook processing time (p50 / p95 / p99)",
                quantiles("switchboard_ingest_webhook_processing_seconds", "le", ""),
                "s",
                "Request received to response. Target: p95 under 2 s.",
            ),
            panel(
                "Outbox backlog",
                [
                    target(f"max(switchboard_ingest_outbox_backlog{{{NS}}})", "events waiting"),
                    target(
                        f"max(switchboard_ingest_outbox_oldest_age_seconds{{{NS}}})",
                        "oldest (s)",
                    ),
                ],
                "short",
                "Accepted webhooks not yet on Kafka, and the age of the oldest (alert: 60 s).",
            ),
            panel(
                "Events published",
                [
                    target(
                        "sum by (path) "
                        f"(rate(switchboard_ingest_events_published_total{{{NS}}}[5m]))",
                        "{{path}}",
                    ),
                    target(
                        f"sum(rate(switchboard_ingest_publish_errors_total{{{NS}}}[5m]))",
                        "publish errors",
                    ),
                ],
                "ops",
                "inline: on the request path; relay: finished by the outbox relay.",
            ),
        ],
    ),
    (
        "Integrations",
        [
            panel(
                "Sync outcomes per integration",
                [
                    target(
                        "sum by (integration, outcome) "
                        f"(rate(switchboard_sync_results_total{{{NS}}}[5m]))",
                        "{{integration}} {{outcome}}",
                    )
                ],
                "ops",
                "synced, stale, duplicate, shadow, off, failed.",
            ),
            panel(
                "Retries and failures per integration",
                [
                    target(
                        "sum by (integration, reason) "
                        f"(rate(switchboard_sync_retries_total{{{NS}}}[5m]))",
                        "{{integration}} retried ({{reason}})",
                    ),
                    target(
                        f"sum by (integration) (rate(switchboard_sync_failures_total{{{NS}}}[5m]))",
                        "{{integration}} failed",
                    ),
                    target(
                        "sum by (integration, status) "
                        f"(rate(switchboard_sync_auth_errors_total{{{NS}}}[5m]))",
                        "{{integration}} auth {{status}}",
                    ),
                ],
                "ops",
                "Failed: retries ran out (one incident each). Auth: 401/403 from the provider.",
            ),
            panel(
                "Sync processing time (p50 / p95 / p99)",
                quantiles(
                    "switchboard_sync_processing_seconds", "integration, le", "{{integration}} "
                ),
                "s",
                "One event, retries included.",
            ),
            panel(
                "Downstream latency (p95) by integration and route",
                [
                    target(
                        "histogram_quantile(0.95, sum by (integration, route, le) "
                        f"(rate(switchboard_downstream_request_seconds_bucket{{{NS}}}[5m])))",
                        "{{integration}} {{route}}",
                    )
                ],
                "s",
                "Provider API calls.",
            ),
            panel(
                "Downstream status codes",
                [
                    target(
                        "sum by (integration, status) "
                        f"(rate(switchboard_downstream_request_seconds_count{{{NS}}}[5m]))",
                        "{{integration}} {{status}}",
                    )
                ],
                "reqps",
                "status `error`: timeout or connection failure (no answer).",
            ),
            panel(
                "Consumer lag per group",
                [
                    target(
                        "sum by (group) (max by (group, topic, partition) "
                        f"(switchboard_consumer_lag_messages{{{NS}}}))",
                        "{{group}}",
                    )
                ],
                "short",
                "Messages not yet committed; every replica reports it, so de-duplicated.",
            ),
        ],
    ),
    (
        "Provider budget",
        [
            panel(
                "Provider calls by kind and outcome",
                [
                    target(
                        "sum by (integration, kind, outcome) "
                        f"(rate(switchboard_provider_requests_total{{{NS}}}[5m]))",
                        "{{integration}} {{kind}} {{outcome}}",
                    )
                ],
                "reqps",
                "Every call sent (GET: read; other methods: write), paced at the provider's "
                "published limit. rate_limited: 429s, which pacing should keep rare.",
            ),
            panel(
                "Monthly quota used",
                [
                    target(
                        f"max by (integration) (switchboard_provider_quota_used_ratio{{{NS}}})",
                        "{{integration}}",
                    )
                ],
                "percentunit",
                "This month's calls (UTC, all replicas) against the integration's quota "
                "(SWITCHBOARD_<INTEGRATION>_MONTHLY_QUOTA); runbook: Provider quota.",
            ),
            panel(
                "Events held for their step",
                [
                    target(
                        f"sum by (integration, priority) (switchboard_sync_held_events{{{NS}}})",
                        "{{integration}} {{priority}}",
                    ),
                    target(
                        "sum by (integration) "
                        f"(rate(switchboard_sync_superseded_total{{{NS}}}[5m]))",
                        "{{integration}} superseded/s",
                    ),
                ],
                "short",
                "Events read and waiting for their step (urgent: access removals, run first); "
                "superseded: older events of a customer recorded without a call because a newer "
                "one was held (latest state wins).",
            ),
        ],
    ),
    (
        "Reconcile",
        [
            panel(
                "Invariant violations left standing by the last sweep",
                [
                    target(
                        "sum by (invariant) (max by (invariant, job) "
                        f"({newest_sweep(f'switchboard_invariant_violations{{{NS}}}')}))",
                        "{{invariant}}",
                    )
                ],
                "short",
                "What the last sweep found and did not repair: reported (dry run, shadow, an "
                "unknown person), ticketed, or a repair still pending (each worker's newest "
                "sweep; unknown_with_access adds circle's and convertkit's). Above 0 for 5 "
                "minutes an alert fires; runbook: The reconcile sweep.",
            ),
            panel(
                "Drift found by kind per integration",
                [
                    target(
                        "max by (integration, kind) "
                        f"({newest_sweep(f'switchboard_reconcile_drift{{{NS}}}')})",
                        "{{integration}} {{kind}}",
                    )
                ],
                "short",
                "Differences between a provider and the customers' lifecycle the last sweep found: "
                "missing_access, extra_access, stale_tag, wrong_stage, unknown_person, "
                "ledger_out_of_date.",
            ),
            panel(
                "Time since the last sweep per integration",
                [
                    target(
                        "time() - (max by (integration) "
                        f"(switchboard_reconcile_last_success_timestamp_seconds{{{NS}}}) > 0)",
                        "{{integration}} since",
                    ),
                    target(
                        "max by (integration) "
                        f"(switchboard_reconcile_interval_seconds{{{NS}}}) > 0",
                        "{{integration}} interval",
                    ),
                ],
                "s",
                "Since the last finished sweep, against the schedule's interval "
                "(SWITCHBOARD_RECONCILE_INTERVAL_SECONDS, 1 h by default; the alert fires past 3 "
                "intervals). An integration never swept has no 'since' line, one swept only on "
                "demand (interval 0) no 'interval' line.",
            ),
            panel(
                "Reconcile calls and repairs (per hour)",
                [
                    target(
                        "sum by (integration) "
                        f"(increase(switchboard_reconcile_calls_total{{{NS}}}[1h]))",
                        "{{integration}} calls",
                    ),
                    target(
                        "sum by (integration) "
                        f"(increase(switchboard_reconcile_repairs_total{{{NS}}}[1h]))",
                        "{{integration}} repairs",
                    ),
                ],
                "short",
                "Provider page calls the sweeps spent (they count against the monthly quota) and "
                "repairs they queued.",
            ),
        ],
    ),
    (
        "Support",
        [
            panel(
                "Open incidents",
                [target(f"max(switchboard_support_incidents_open{{{NS}}})", "open")],
                "short",
                "Incidents opened after a sync failed for good and not yet resolved.",
                kind="stat",
            ),
            panel(
                "Tickets created (per hour)",
                [
                    target(
                        f"sum(increase(switchboard_support_tickets_created_total{{{NS}}}[1h]))",
                        "tickets",
                    )
                ],
                "short",
                "One ticket per incident.",
            ),
        ],
    ),
    (
        "Canary",
        [
            panel(
                "Last canary run passed",
                [target(f"max(switchboard_canary_success{{{NS}}})", "passed")],
                "bool_yes_no",
                "`switchboard canary` (every 4 hours): a test purchase and refund through "
                "ingest and every integration. The alert fires after two failures in a row.",
                kind="stat",
            ),
            panel(
                "Canary failures in a row",
                [target(f"max(switchboard_canary_consecutive_failures{{{NS}}})", "failures")],
                "short",
                "Failed runs since the last one that passed (SwitchboardCanaryFailing at 2).",
                kind="stat",
            ),
            panel(
                "Canary run time",
                [
                    target(f"max(switchboard_canary_duration_seconds{{{NS}}})", "last run"),
                    target(
                        f"time() - max(switchboard_canary_last_run_timestamp_seconds{{{NS}}} > 0)",
                        "since the last run",
                    ),
                ],
                "s",
                "Purchase to access removed, for the last run; and how long ago it ended "
                "(past the interval and growing: the CronJob is not running; "
                "SwitchboardCanaryStale at 3 intervals).",
            ),
        ],
    ),
]
