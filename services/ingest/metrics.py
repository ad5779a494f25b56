from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .normalize import HANDLED_TYPES

#: every code a rejected webhook is counted under (routes.py and signature.py)
REJECTIONS = (
    "payload_too_large",
    "not_a_stripe_event",
    "signature_missing",
    "signature_malformed",
    "signature_no_v1",
    "signature_mismatch",
    "timestamp_too_old",
    "timestamp_in_future",
)


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.webhooks = Counter(
            "switchboard_ingest_webhooks_total",
            "Webhooks received, by provider, event type and outcome.",
            ["provider", "type", "outcome"],
            registry=registry,
        )
        self.processing = Histogram(
            "switchboard_ingest_webhook_processing_seconds",
            "Time from request received to response, for webhooks.",
            ["provider"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
            registry=registry,
        )
        self.outbox_backlog = Gauge(
            "switchboard_ingest_outbox_backlog",
            "Accepted events not yet published to Kafka.",
            registry=registry,
        )
        self.outbox_oldest_age = Gauge(
            "switchboard_ingest_outbox_oldest_age_seconds",
            "Age of the oldest accepted event not yet published.",
            registry=registry,
        )
        self.published = Counter(
            "switchboard_ingest_events_published_total",
            "Customer events published to Kafka, by path (inline or relay).",
            ["path"],
            registry=registry,
        )
        self.publish_errors = Counter(
            "switchboard_ingest_publish_errors_total",
            "Failed attempts to publish a customer event to Kafka.",
            registry=registry,
        )

    def start_at_zero(self) -> None:
        """Every series with known label values exists from the start at 0 (see the workers'
        `start_at_zero`): the first rejected signature after a start is an increase."""
        for event_type in (*HANDLED_TYPES, "other"):
            for outcome in ("accepted", "duplicate"):
                self.webhooks.labels("stripe", event_type, outcome)
        for code in REJECTIONS:
            self.webhooks.labels("stripe", "unknown", code)
        for path in ("batch", "inline", "relay"):
            self.published.labels(path)

    @staticmethod
    def type_label(event_type: str) -> str:
        # Unknown types are recorded but grouped, so a sender cannot explode label cardinality.
        return event_type if event_type in HANDLED_TYPES else "other"
