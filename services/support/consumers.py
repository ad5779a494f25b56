"""Support's Kafka consumers: every integration's failure topic and `sync.results.v1`.

Commits are ours and come after the record is written (`AckPolicy.MANUAL`); a message that
cannot be read is skipped loudly, an internal error hands the message back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from libs.contracts import SYNC_RESULTS, SyncFailure, SyncResult, failure_topic
from libs.runtime.offsets import consume, consume_batch

from .metrics import SupportMetrics
from .service import SupportService
from .settings import SupportSettings

#: outcomes taken from Kafka at once
RESULTS_BATCH = 400


def group_id(settings: SupportSettings) -> str:
    return f"{settings.kafka_group_prefix}-support"


def subscribe(
    broker: KafkaBroker,
    service: SupportService,
    settings: SupportSettings,
    metrics: SupportMetrics,
) -> None:
    options: dict[str, Any] = {"ack_policy": AckPolicy.MANUAL, "auto_offset_reset": "earliest"}
    topics = [failure_topic(name) for name in settings.integrations]

    def counter(kind: str) -> Callable[[str], None]:
        return lambda outcome: metrics.messages.labels(kind, outcome).inc()

    # Failures are rare: one consumer reads every failure topic. Outcomes are many (every
    # worker's, for every event): they come in batches, so a batch's timelines cost one read and
    # one bulk write, committed after the effect (redone, it changes nothing).
    @broker.subscriber(*topics, group_id=group_id(settings), **options)
    async def on_failure(msg: KafkaMessage) -> None:
        await consume(msg, SyncFailure, service.take_failure, "failure", counter("failure"))

    @broker.subscriber(
        SYNC_RESULTS,
        group_id=f"{group_id(settings)}-results",
        batch=True,
        max_records=RESULTS_BATCH,
        batch_timeout_ms=100,
        **options,
    )
    async def on_results(msg: KafkaMessage) -> None:
        await consume_batch(msg, SyncResult, service.take_results, "result", counter("result"))
