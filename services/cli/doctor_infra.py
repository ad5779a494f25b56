"""Kafka and the store: reachable, every topic there with its partitions, and how far each
worker's consumer group is behind on the customer events (work accepted, not yet done)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from libs.contracts import CUSTOMER_EVENTS, INTEGRATIONS, TOPIC_PARTITIONS
from libs.runtime.lag import committed_lag, topic_partitions

from .doctor_checks import Check, failed, passed
from .doctor_settings import DoctorSettings
from .settings import store_hosts

KAFKA_CHECKS = ("kafka", "kafka topics", "consumer lag")


class Infra(Protocol):
    """What the doctor asks of Kafka and the store (tests pass their own)."""

    async def kafka(self, settings: DoctorSettings) -> list[Check]: ...

    async def store(self, settings: DoctorSettings) -> list[Check]: ...


class RealInfra:
    async def kafka(self, settings: DoctorSettings) -> list[Check]:
        bootstrap = settings.kafka_bootstrap_servers
        if not bootstrap:
            fix = "set SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS"
            return [failed(KAFKA_CHECKS[0], "not set", fix), *_not_checked()]
        timeout = settings.doctor_infra_timeout_seconds
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000)
        )
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        try:
            async with asyncio.timeout(timeout):
                await admin.start()
                await consumer.start()
            async with asyncio.timeout(timeout * 2):
                return [
                    passed(KAFKA_CHECKS[0], bootstrap),
                    await _topics(admin),
                    await _lag(admin, consumer, settings),
                ]
        except Exception as exc:  # every way of not reaching Kafka is one failed check
            detail = f"{bootstrap}: {type(exc).__name__} {str(exc)[:120]}".strip()
            fix = "check SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS and that the brokers are up"
            return [failed(KAFKA_CHECKS[0], detail, fix), *_not_checked()]
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
            with contextlib.suppress(Exception):
                await admin.close()

    async def store(self, settings: DoctorSettings) -> list[Check]:
        uri = settings.mongodb_uri.get_secret_value()
        if not uri:
            return [failed("store", "not set", "set SWITCHBOARD_MONGODB_URI")]
        timeout_ms = int(settings.doctor_infra_timeout_seconds * 1000)
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
            uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
        )
        try:
            await client.admin.command("ping")
        except Exception as exc:  # any failure to reach the store is the one finding
            detail = f"{store_hosts(uri)}: {type(exc).__name__}"
            fix = "check SWITCHBOARD_MONGODB_URI and that the server is up"
            return [failed("store", detail, fix)]
        finally:
            await client.close()
        return [passed("store", f"{store_hosts(uri)} answers ping")]


async def _topics(admin: AIOKafkaAdminClient) -> Check:
    problems = []
    for topic, wanted in TOPIC_PARTITIONS.items():
        partitions = len(await topic_partitions(admin, topic))
        if partitions == 0:
            problems.append(f"{topic} missing")
        elif partitions < wanted:
            problems.append(f"{topic} has {partitions} partitions, not {wanted}")
    if problems:
        fix = "create the topics with their partitions (deploy/ provisions them)"
        return failed(KAFKA_CHECKS[1], "; ".join(problems), fix)
    return passed(KAFKA_CHECKS[1], f"all {len(TOPIC_PARTITIONS)} with their partitions")


async def _lag(
    admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, settings: DoctorSettings
) -> Check:
    behind = {}
    for integration in INTEGRATIONS:
        group = f"{settings.kafka_group_prefix}-{integration}"
        behind[integration] = sum(
            (await committed_lag(admin, consumer, group, CUSTOMER_EVENTS)).values()
        )
    shown = ", ".join(f"{name} {lag}" for name, lag in behind.items())
    over = [name for name, lag in behind.items() if lag > settings.doctor_max_lag]
    if over:
        detail = f"{shown} (over {settings.doctor_max_lag}: {', '.join(over)})"
        fix = "look at those workers' logs and /readyz; scale them out if they are just slow"
        return failed(KAFKA_CHECKS[2], detail, fix)
    return passed(KAFKA_CHECKS[2], f"{shown} behind on {CUSTOMER_EVENTS}")


def _not_checked() -> list[Check]:
    return [
        failed(n, "not checked: Kafka unreachable", "fix Kafka first") for n in KAFKA_CHECKS[1:]
    ]
