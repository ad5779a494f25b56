"""Ingest's consumer of `sync.results.v1`: keeps each customer's per-integration status."""

from __future__ import annotations

from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from libs.contracts import SYNC_RESULTS, SyncResult
from libs.runtime.consuming import CommitPolicy, consumer_router, decode_batch_as

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
    router = consumer_router(CommitPolicy(kind="result"))
    group = f"{settings.kafka_group_prefix}-ingest-results"

    @router.subscriber(
        SYNC_RESULTS,
        group_id=group,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        batch=True,
        max_records=RESULTS_BATCH,
        batch_timeout_ms=100,
        decoder=decode_batch_as(SyncResult, "result"),
        title=f"ingest:{SYNC_RESULTS}",
        description=f"Consumer group `{group}`, in batches: ingest keeps each customer's "
        "per-integration status from every outcome.",
    )
    async def on_sync_results(results: list[SyncResult]) -> None:
        if results:
            await service.record_results(results, enabled)

    broker.include_router(router)
