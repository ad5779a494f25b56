"""Builds a sync worker service around an `Integration`: Kafka subscriptions with their own
consumer group, the dedupe store, retries, metrics, lag, and `/healthz` `/readyz` `/metrics`.
A worker folder supplies only its integration and settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from prometheus_client import CollectorRegistry

from libs.contracts import CUSTOMER_EVENTS, TOPIC_PARTITIONS, replay_topic

from .broker import make_broker
from .dedupe import DedupeStore
from .http import make_http_app
from .integration import Integration, WorkerSettings
from .lag import monitor_lag
from .lifecycle import background, start_broker_when_reachable
from .logging import configure_logging, get_logger
from .mongo import database, make_client, ping
from .worker import WorkerLoop
from .worker_metrics import WorkerMetrics

log = get_logger()

IntegrationFactory = Callable[[WorkerSettings, WorkerMetrics], Integration]


def group_id(settings: WorkerSettings, integration: str) -> str:
    return f"{settings.kafka_group_prefix}-{integration}"


def consumer_options(settings: WorkerSettings) -> dict[str, Any]:
    """How every worker consumes: commits are ours (after the effect), one consumer per
    partition set (parallel across partitions, in order within one), and a poll interval
    longer than the longest wait on rate limits, so a patient worker is not thrown out."""
    session_ms = int(settings.consumer_session_timeout_seconds * 1000)
    return {
        "ack_policy": AckPolicy.MANUAL,
        "auto_offset_reset": "earliest",
        "max_workers": settings.concurrency,
        "max_poll_interval_ms": int(settings.consumer_max_poll_interval_seconds * 1000),
        "session_timeout_ms": session_ms,
        "heartbeat_interval_ms": max(session_ms // 3, 100),
    }


def subscribe_worker(
    broker: KafkaBroker,
    holder: dict[str, WorkerLoop],
    settings: WorkerSettings,
    *,
    group: str,
    events_topic: str,
    replays_topic: str,
) -> None:
    """The worker's two subscriptions: the customer events and its own replay topic, each with
    its own consumer group. `holder["loop"]` is set once the lifespan has built the loop."""
    options = consumer_options(settings)
    # more consumers than partitions would sit idle (and slow every rebalance)
    replay_options = {
        **options,
        "max_workers": min(settings.concurrency, TOPIC_PARTITIONS.get(replays_topic, 3)),
    }

    @broker.subscriber(events_topic, group_id=group, **options)
    async def on_customer_event(msg: KafkaMessage) -> None:
        await holder["loop"].on_customer_event(msg.body, msg)

    @broker.subscriber(replays_topic, group_id=f"{group}-replay", **replay_options)
    async def on_replay(msg: KafkaMessage) -> None:
        await holder["loop"].on_replay(msg.body, msg)


async def stop_worker(loop: WorkerLoop | None, broker: KafkaBroker, grace: float) -> None:
    """SIGTERM: start nothing new, let attempts in flight finish (up to `grace` s), hand back
    what waits between retries, then leave the consumer group. Done in this order because
    FastStream stops the consumers before it waits for handlers: a handler finishing after its
    consumer left the group has its commit refused while other replicas hold the group, so its
    message would run a second time."""
    if loop is not None:
        drained = await loop.drain(grace)
        log.info("worker_drained", integration=loop.name, complete=drained, left=loop.in_flight)
    await broker.stop()


def create_worker_app(
    name: str, settings: WorkerSettings, make_integration: IntegrationFactory
) -> FastAPI:
    configure_logging(settings.service_name, settings.log_level)
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    metrics.start_at_zero(name)
    mongo = make_client(settings)
    dedupe = DedupeStore(database(mongo, settings), name)
    broker = make_broker(settings)
    group = group_id(settings, name)
    holder: dict[str, WorkerLoop] = {}
    subscribe_worker(
        broker,
        holder,
        settings,
        group=group,
        events_topic=CUSTOMER_EVENTS,
        replays_topic=replay_topic(name),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        integration = make_integration(settings, metrics)
        holder["loop"] = WorkerLoop(integration, settings, broker, dedupe, metrics)
        lag = monitor_lag(
            settings.kafka_bootstrap_servers,
            {group: CUSTOMER_EVENTS, f"{group}-replay": replay_topic(name)},
            metrics.lag,
        )
        async with background(start_broker_when_reachable(broker), lag):
            yield
            await stop_worker(holder.get("loop"), broker, settings.shutdown_grace_seconds)
        await integration.aclose()
        await mongo.close()

    async def kafka_ready() -> bool:
        try:
            return bool(await broker.ping(timeout=2.0))
        except Exception:
            return False

    app = make_http_app(
        title=f"Switchboard {name} worker",
        registry=registry,
        readiness={"mongodb": lambda: ping(mongo), "kafka": kafka_ready},
        lifespan=lifespan,
    )
    app.state.holder = holder
    return app
