"""Ingest's consumer of `sync.results.v1`: keeps each customer's per-integration status."""

from __future__ import annotations

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from libs.contracts import SYNC_RESULTS, SyncResult
from libs.runtime.offsets import consume_batch

from .service import IngestService
from .settings import IngestSettings

#: results taken from Kafka at once
RESULTS_BATCH = 400


def subscribe_results(
    broker: KafkaBroker, service: IngestService, settings: IngestSettings
) -> None:
    enabled = tuple(settings.enabled_integrations)

    # In batches: every result of a customer in a batch costs one read and one write together
    # (one per result, before, so a backlog of results made the status API lag minutes behind
    # the providers). The batch is committed after its effect; redone, it changes nothing.
    @broker.subscriber(
        SYNC_RESULTS,
        group_id=f"{settings.kafka_group_prefix}-ingest-results",
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        batch=True,
        max_records=RESULTS_BATCH,
        batch_timeout_ms=100,
    )
    async def on_sync_results(msg: KafkaMessage) -> None:
        await consume_batch(
            msg, SyncResult, lambda rs: service.record_results(rs, enabled), SYNC_RESULTS
        )
