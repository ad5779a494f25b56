"""Consumer lag per partition, read out of band from the real broker (what the worker exports as
`switchboard_consumer_lag_messages`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import CollectorRegistry, Gauge

from libs.runtime.lag import committed_lag, monitor_lag

pytestmark = pytest.mark.integration


@pytest.fixture
async def topic(kafka_bootstrap: str) -> AsyncIterator[str]:
    name = f"t.lag.{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 3, 1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


async def test_lag_is_end_minus_committed_per_partition(kafka_bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for n, partition in enumerate([0, 0, 0, 0, 1, 1]):
            await producer.send_and_wait(topic, b"x%d" % n, partition=partition)
    finally:
        await producer.stop()
    group = f"lag-{uuid.uuid4().hex[:8]}"
    committer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await committer.start()
    try:
        committer.assign([TopicPartition(topic, 0)])
        await committer.commit({TopicPartition(topic, 0): 3})  # 3 of 4 done on partition 0
    finally:
        await committer.stop()

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        # partition 1 was never committed: all of it is lag; partition 2 is empty
        assert await committed_lag(admin, consumer, group, topic) == {0: 1, 1: 2, 2: 0}
    finally:
        await consumer.stop()
        await admin.close()

    registry = CollectorRegistry()
    gauge = Gauge("lag", "lag", ["group", "topic", "partition"], registry=registry)
    task = asyncio.create_task(monitor_lag(kafka_bootstrap, {group: topic}, gauge, interval=0.2))
    try:
        for _ in range(100):
            value = registry.get_sample_value(
                "lag", {"group": group, "topic": topic, "partition": "1"}
            )
            if value is not None:
                break
            await asyncio.sleep(0.1)
        assert value == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
