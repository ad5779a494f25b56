"""Explicit Kafka offset control for FastStream messages under `AckPolicy.MANUAL`.

`KafkaMessage.ack()` commits the position of every partition the consumer holds; committing
`offset + 1` of exactly the processed record is what "commit after the effect" means.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from aiokafka import TopicPartition
from faststream.kafka import KafkaMessage
from faststream.message import AckStatus
from pydantic import BaseModel, ValidationError

from .logging import get_logger

log = get_logger()


async def commit(msg: KafkaMessage) -> None:
    record = msg.raw_message
    consumer = getattr(msg, "consumer", None)
    if consumer is None or isinstance(record, tuple) or not hasattr(consumer, "assignment"):
        return  # in-memory test broker: nothing to commit
    try:
        await consumer.commit({TopicPartition(record.topic, record.partition): record.offset + 1})
    except Exception as exc:  # a rebalance: the new owner redelivers, and dedupe absorbs it
        log.warning("commit_failed", topic=record.topic, error=type(exc).__name__)
    msg.committed = AckStatus.ACKED


async def hand_back(msg: KafkaMessage, delay_seconds: float = 1.0) -> None:
    """Do not commit; seek back so the same consumer reads the message again after a pause."""
    await asyncio.sleep(delay_seconds)
    await msg.nack()


M = TypeVar("M", bound=BaseModel)


async def consume(
    msg: KafkaMessage,
    model: type[M],
    take: Callable[[M], Awaitable[Any]],
    kind: str,
    count: Callable[[str], None] = lambda _: None,
) -> None:
    """Read one message, act on it, then commit exactly it. A message no version of this code
    can read is skipped loudly (retrying cannot help); a failure of the action hands it back.
    `count` hears the outcome: ok, unreadable or handed_back."""
    try:
        message = model.model_validate_json(msg.body)
    except ValidationError as exc:
        log.error("message_unreadable", kind=kind, error=str(exc)[:300])
        count("unreadable")
        await commit(msg)
        return
    try:
        await take(message)
    except Exception:
        log.exception("handed_back", kind=kind, event_id=getattr(message, "event_id", None))
        count("handed_back")
        await hand_back(msg)
        return
    count("ok")
    await commit(msg)


async def commit_batch(msg: KafkaMessage) -> None:
    """Commit, for each partition of a batch, the offset after its last record."""
    records = msg.raw_message
    consumer = getattr(msg, "consumer", None)
    if consumer is None or not isinstance(records, tuple) or not hasattr(consumer, "assignment"):
        return  # in-memory test broker: nothing to commit
    ends: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        ends[tp] = max(ends.get(tp, 0), record.offset + 1)
    try:
        await consumer.commit(ends)
    except Exception as exc:  # a rebalance: the new owner redelivers, and the effect is idempotent
        log.warning("commit_failed", error=type(exc).__name__)
    msg.committed = AckStatus.ACKED


async def consume_batch(
    msg: KafkaMessage,
    model: type[M],
    take: Callable[[list[M]], Awaitable[Any]],
    kind: str,
    count: Callable[[str], None] = lambda _: None,
) -> None:
    """`consume` for a batch: act on every readable message at once, then commit the batch;
    a failure hands the whole batch back (the action must be idempotent)."""
    messages: list[M] = []
    for body in cast(list[bytes], msg.body):  # a batch message's body is its records' bodies
        try:
            messages.append(model.model_validate_json(body))
        except ValidationError as exc:
            log.error("message_unreadable", kind=kind, error=str(exc)[:300])
            count("unreadable")
    try:
        if messages:
            await take(messages)
    except Exception:
        log.exception("handed_back", kind=kind, messages=len(messages))
        count("handed_back")
        await hand_back(msg)
        return
    for _ in messages:
        count("ok")
    await commit_batch(msg)
