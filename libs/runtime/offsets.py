"""Explicit Kafka offset control for FastStream messages under `AckPolicy.MANUAL`.

`KafkaMessage.ack()` commits the position of every partition the consumer holds; committing
`offset + 1` of exactly the processed record is what "commit after the effect" means.
"""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition
from faststream.kafka import KafkaMessage
from faststream.message import AckStatus

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
