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


async def committed_lag(
    admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, group: str, topic: str
) -> dict[int, int]:
    partitions = consumer.partitions_for_topic(topic) or set()
    if not partitions:
        await consumer.topics()  # refresh metadata once
        partitions = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    if not tps:
        return {}
    ends = await consumer.end_offsets(tps)
    committed = await admin.list_consumer_group_offsets(group, partitions=tps)
    lag = {}
    for tp in tps:
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
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
                log.debug("lag_probe_failed", error=type(exc).__name__)
            await asyncio.sleep(interval)
    finally:
        if started:
            with contextlib.suppress(Exception):
                await consumer.stop()
            with contextlib.suppress(Exception):
                await admin.close()
