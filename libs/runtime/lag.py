"""Consumer lag, measured out of band: FastStream's consumers are internal, and lag read from
the committed offsets is what on-call cares about (work accepted but not yet done)."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Gauge

from .logging import get_logger

log = get_logger()


async def topic_partitions(admin: AIOKafkaAdminClient, topic: str) -> list[int]:
    """The topic's partitions, from the cluster metadata. (A group-less consumer's
    `partitions_for_topic` knows only topics it was assigned, and `topics()` does not fill it.)"""
    for described in await admin.describe_topics([topic]):
        if described.get("topic") == topic and not described.get("error_code"):
            return sorted(int(p["partition"]) for p in described.get("partitions", []))
    return []


async def committed_lag(
    admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, group: str, topic: str
) -> dict[int, int]:
    """partition -> messages not yet committed by `group` (log end offset - committed offset;
    a partition the group never committed counts from its first available offset)."""
    tps = [TopicPartition(topic, p) for p in await topic_partitions(admin, topic)]
    if not tps:
        return {}
    ends = await consumer.end_offsets(tps)
    starts = await consumer.beginning_offsets(tps)
    committed = await admin.list_consumer_group_offsets(group, partitions=tps)
    lag = {}
    for tp in tps:
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else starts.get(tp, 0)
        lag[tp.partition] = max(ends.get(tp, 0) - done, 0)
    return lag


async def monitor_lag(
    bootstrap: str, groups: dict[str, str], gauge: Gauge, interval: float = 5.0
) -> None:
    """Forever: set `gauge{group,topic,partition}` for each (group -> topic) pair."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    started = False
    try:
        while True:
            try:
                if not started:
                    await admin.start()
                    await consumer.start()
                    started = True
                for group, topic in groups.items():
                    for partition, lag in (
                        await committed_lag(admin, consumer, group, topic)
                    ).items():
                        gauge.labels(group, topic, str(partition)).set(lag)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("lag_probe_failed", error=type(exc).__name__, detail=str(exc)[:200])
            await asyncio.sleep(interval)
    finally:
        if started:
            with contextlib.suppress(Exception):
                await consumer.stop()
            with contextlib.suppress(Exception):
                await admin.close()
