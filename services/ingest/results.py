"""Ingest's consumer of `sync.results.v1`: keeps each customer's per-integration status."""

from __future__ import annotations

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import ValidationError

from libs.contracts import SYNC_RESULTS, SyncResult
from libs.runtime.logging import get_logger
from libs.runtime.offsets import commit, hand_back

from .service import IngestService
from .settings import IngestSettings

log = get_logger()


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
        try:
            result = SyncResult.model_validate_json(msg.body)
        except ValidationError as exc:
            log.error("message_unreadable", topic=SYNC_RESULTS, error=str(exc)[:300])
            await commit(msg)
            return
        try:
            await service.record_result(result, enabled)
        except Exception:
            log.exception("handed_back", topic=SYNC_RESULTS, event_id=result.event_id)
            await hand_back(msg)
            return
        await commit(msg)
