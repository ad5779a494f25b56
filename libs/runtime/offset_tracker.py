"""Commit after the effect when events finish out of order.

The step queue (`step_queue.py`) runs a partition's events out of order (revocations first, one
customer's events folded into one), but Kafka keeps one committed position per partition: every
record before it counts as done. So a record's offset is committed only when it and every record
the consumer read before it in that partition are settled; a crash before that redelivers the
unsettled ones (and the ones after them), and the dedupe record makes the redelivery harmless.

Commits of one partition go out one at a time, each with the furthest settled position, so a
slow commit never lands after a later one and moves the position back.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from faststream.kafka import KafkaMessage
from faststream.message import AckStatus

from .logging import get_logger

log = get_logger()


async def _nothing() -> None:
    return None


@dataclass
class _Partition:
    consumer: Any
    tp: TopicPartition
    read: deque[int] = field(default_factory=deque)  # offsets read, in order, not yet passed
    settled: Counter[int] = field(default_factory=Counter)
    done_upto: int = -1  # every record read before this offset is settled
    position: int = -1  # the furthest position this process committed
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class OffsetTracker:
    def __init__(self) -> None:
        self._partitions: dict[tuple[int, str, int], _Partition] = {}

    def track(self, msg: KafkaMessage) -> Callable[[], Awaitable[None]]:
        """Note that `msg` was read. Returns `settle`: marks it done and commits what that
        allows."""
        record = msg.raw_message
        consumer = getattr(msg, "consumer", None)
        if consumer is None or isinstance(record, tuple) or not hasattr(consumer, "assignment"):
            return _nothing  # the in-memory test broker: nothing to commit
        tp = TopicPartition(record.topic, record.partition)
        key = (id(consumer), record.topic, record.partition)
        partition = self._partitions.get(key)
        if partition is None:
            partition = self._partitions[key] = _Partition(consumer, tp)
        partition.read.append(record.offset)
        offset = record.offset

        async def settle() -> None:
            await self._settle(partition, offset)
            msg.committed = AckStatus.ACKED

        return settle

    async def settle_now(self, msg: KafkaMessage) -> None:
        """A message done as soon as read (one no version of this code can read)."""
        await self.track(msg)()

    async def _settle(self, partition: _Partition, offset: int) -> None:
        partition.settled[offset] += 1
        passed = None
        while partition.read and partition.settled[partition.read[0]] > 0:
            passed = partition.read.popleft()
            partition.settled[passed] -= 1
            if not partition.settled[passed]:
                del partition.settled[passed]
        if passed is None:
            return
        partition.done_upto = max(partition.done_upto, passed + 1)
        async with partition.lock:
            target = partition.done_upto  # it may have moved on while we waited: commit that
            if target <= partition.position:
                return
            try:
                await partition.consumer.commit({partition.tp: target})
                partition.position = target
            except Exception as exc:  # a rebalance: the new owner redelivers, dedupe absorbs it
                log.warning("commit_failed", topic=partition.tp.topic, error=type(exc).__name__)
