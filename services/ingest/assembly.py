"""Ingest's parts put together from its ports: the request path, the apply stage, the relay,
the publisher and the consumers' routers. `main.py` passes the real adapters; the handler
tests pass the fakes (`InMemoryCustomers`, `InMemoryEventLog`) and FastStream's test broker."""

from __future__ import annotations

from dataclasses import dataclass

from faststream.kafka import KafkaBroker, KafkaRouter

from .apply_stage import ApplyStage
from .customers import CustomerRepository
from .event_log import EventLog
from .incidents import incidents_router
from .intake import EventIntake
from .metrics import IngestMetrics
from .outbox import OutboxPublisher
from .relay import OutboxRelay
from .results import results_router
from .service import IngestService
from .settings import IngestSettings
from .stripe_api import StripeApi
from .work_left import WorkLeft


@dataclass
class Ingest:
    service: IngestService
    stage: ApplyStage
    relay: OutboxRelay
    publisher: OutboxPublisher
    routers: list[KafkaRouter]


def assemble(
    settings: IngestSettings,
    broker: KafkaBroker,
    customers: CustomerRepository,
    events: EventLog,
    stripe: StripeApi,
    metrics: IngestMetrics,
    *,
    intake_events: EventLog | None = None,
) -> Ingest:
    """`intake_events`: the event log the request path inserts through (in production on a
    connection of its own, so those inserts never queue behind the stage's bulk writes)."""
    work_left = WorkLeft()
    publisher = OutboxPublisher(broker, events, metrics, on_failure=work_left.note)
    stage = ApplyStage(customers, events, publisher, stripe, work_left)
    relay = OutboxRelay(
        stage,
        events,
        publisher,
        metrics,
        after_seconds=settings.relay_after_seconds,
        interval_seconds=settings.relay_interval_seconds,
        sweep_seconds=settings.relay_sweep_seconds,
    )
    service = IngestService(EventIntake(intake_events or events), stage)
    routers = [
        results_router(settings, customers, publisher),
        incidents_router(settings, customers),
    ]
    return Ingest(service, stage, relay, publisher, routers)
