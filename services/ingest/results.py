"""Ingest's consumer of `sync.results.v1`: keeps each customer's per-integration status."""

from __future__ import annotations

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from libs.contracts import SYNC_RESULTS, SyncResult
from libs.runtime.offsets import consume

from .service import IngestService
from .settings import IngestSettings


def subscribe_results(
    broker: KafkaBroker, service: IngestService, settings: IngestSettings
) -> None:
    enabled = tuple(settings.enabled_integrations)

    @broker.subscriber(
        SYNC_RESULTS,
        group_id=f"{settings.kafka_group_prefix}-ingest-results",
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        max_workers=2,
    )
    async def on_sync_result(msg: KafkaMessage) -> None:
        await consume(msg, SyncResult, lambda r: service.record_result(r, enabled), SYNC_RESULTS)
