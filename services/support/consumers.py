"""Support's Kafka consumers: every integration's failure topic and `sync.results.v1`.

Commits are ours and come after the record is written (`AckPolicy.MANUAL`); a message that
cannot be read is skipped loudly, an internal error hands the message back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import BaseModel, ValidationError

from libs.contracts import SYNC_RESULTS, SyncFailure, SyncResult, failure_topic
from libs.runtime.logging import get_logger
from libs.runtime.offsets import commit, hand_back

from .metrics import SupportMetrics
from .service import SupportService
from .settings import SupportSettings

log = get_logger()


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

    # Failures are rare: one consumer reads every failure topic. Outcomes are many: several
    # consumers share their partitions (FastStream's concurrent mode takes a single topic).
    @broker.subscriber(*topics, group_id=group_id(settings), **options)
    async def on_failure(msg: KafkaMessage) -> None:
        await _handle(msg, SyncFailure, service.take_failure, "failure", metrics)

    @broker.subscriber(
        SYNC_RESULTS,
        group_id=f"{group_id(settings)}-results",
        max_workers=settings.consumer_concurrency,
        **options,
    )
    async def on_result(msg: KafkaMessage) -> None:
        await _handle(msg, SyncResult, service.take_result, "result", metrics)


M = TypeVar("M", bound=BaseModel)


async def _handle(
    msg: KafkaMessage,
    model: type[M],
    take: Callable[[M], Awaitable[Any]],
    kind: str,
    metrics: SupportMetrics,
) -> None:
    try:
        message = model.model_validate_json(msg.body)
    except ValidationError as exc:
        log.error("message_unreadable", kind=kind, error=str(exc)[:300])
        metrics.messages.labels(kind, "unreadable").inc()
        await commit(msg)
        return
    try:
        await take(message)
    except Exception:
        log.exception("handed_back", kind=kind, event_id=getattr(message, "event_id", None))
        metrics.messages.labels(kind, "handed_back").inc()
        await hand_back(msg)
        return
    metrics.messages.labels(kind, "ok").inc()
    await commit(msg)
