"""Offsets settled out of order are committed in order: a partition's position moves only past
records that are all done, so a crash never skips one still running."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from aiokafka import TopicPartition
from faststream.kafka import KafkaMessage

from libs.runtime.offset_tracker import OffsetTracker

TP = TopicPartition("customer.events.v1", 3)


@dataclass
class Record:
    offset: int
    topic: str = TP.topic
    partition: int = TP.partition


@dataclass
class Consumer:
    commits: list[int] = field(default_factory=list)
    owned: set[TopicPartition] = field(default_factory=lambda: {TP})

    def assignment(self) -> set[TopicPartition]:
        return self.owned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets[TP])


@dataclass
class Message:
    raw_message: Record
    consumer: Consumer
    committed: Any = None


def message(consumer: Consumer, offset: int) -> KafkaMessage:
    return cast(KafkaMessage, Message(Record(offset), consumer))


async def test_the_position_moves_only_past_records_that_are_all_done() -> None:
    consumer, tracker = Consumer(), OffsetTracker()
    settle = {o: tracker.track(message(consumer, o)) for o in (10, 11, 12, 13)}
    await settle[12]()  # a revocation that overtook 10 and 11
    await settle[11]()
    assert consumer.commits == []  # 10 still runs: committing 13 would skip it after a crash
    await settle[10]()
    assert consumer.commits == [13]
    await settle[13]()
    assert consumer.commits == [13, 14]


async def test_an_unreadable_record_is_settled_in_its_place() -> None:
    consumer, tracker = Consumer(), OffsetTracker()
    settle_5 = tracker.track(message(consumer, 5))
    await tracker.settle_now(message(consumer, 6))
    assert consumer.commits == []
    await settle_5()
    assert consumer.commits == [7]
