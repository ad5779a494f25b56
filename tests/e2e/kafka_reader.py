"""Read a whole topic from the start, for asserting what was published."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from aiokafka import AIOKafkaConsumer, TopicPartition

from libs.contracts import INTEGRATIONS, TOPIC_PARTITIONS


async def _event_ids(bootstrap: str, topic: str) -> Counter[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    counts: Counter[str] = Counter()
    try:
        partitions = [TopicPartition(topic, p) for p in range(TOPIC_PARTITIONS[topic])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    counts[json.loads(record.value)["event_id"]] += 1
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            if not batch:
                for tp in list(remaining):
                    if await consumer.position(tp) >= ends[tp]:
                        remaining.discard(tp)
    finally:
        await consumer.stop()
    return counts


def published_event_ids(bootstrap: str, topic: str = "customer.events.v1") -> Counter[str]:
    return asyncio.run(_event_ids(bootstrap, topic))


async def _commit_ends(bootstrap: str, group_ids: list[str]) -> None:
    partitions = [TopicPartition(t, p) for t, n in TOPIC_PARTITIONS.items() for p in range(n)]
    for group in group_ids:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            await consumer.commit({tp: offset for tp, offset in ends.items()})
        finally:
            await consumer.stop()


def start_groups_at_end(bootstrap: str, prefix: str) -> None:
    """Let a session's new consumer groups begin where the topics end now, so a re-run on the
    same infrastructure does not first work through every earlier run's messages."""
    names = [
        *INTEGRATIONS,
        *(f"{i}-replay" for i in INTEGRATIONS),
        "ingest-results",
        "ingest-incidents",
        "support",
        "support-results",
    ]
    asyncio.run(_commit_ends(bootstrap, [f"{prefix}-{name}" for name in names]))
