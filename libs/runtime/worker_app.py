"""Builds a sync worker service around an `Integration`: Kafka subscriptions with their own
consumer group, the dedupe store, retries, metrics, lag, and `/healthz` `/readyz` `/metrics`.
A worker folder supplies only its integration and settings."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar, cast

import httpx
from fastapi import FastAPI
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage as MessageOf
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase

from libs.contracts import CUSTOMER_EVENTS, TOPIC_PARTITIONS, CustomerEvent, replay_topic
from libs.reconcile.metrics import ReconcileMetrics
from libs.reconcile.ports import Auditable, CanonicalStates
from libs.reconcile.schedule import SweepScheduler, TopicOutlet
from libs.reconcile.store import MongoSweepStore, SweepStore
from libs.reconcile.sweep import SweepContext

from .app import ServiceParts, Step, create_service_app
from .broker import make_broker
from .consuming import consumer_router, decode_as
from .dedupe import DedupeRecords, MongoDedupe
from .held_events import HeldEvents
from .http import ReadinessCheck
from .integration import Integration, WorkerSettings
from .lag import monitor_lag
from .logging import configure_logging, get_logger
from .mongo import database, make_client, ping
from .provider_budget import ProviderBudget
from .provider_usage import InMemoryUsage, MongoUsage, UsageStore
from .worker import WorkerLoop
from .worker_metrics import WorkerMetrics

log = get_logger()

S = TypeVar("S", bound=WorkerSettings)
S_contra = TypeVar("S_contra", bound=WorkerSettings, contravariant=True)


class IntegrationType(Protocol[S_contra]):
    """An integration class: its name, and built from its settings, the worker's metrics and
    (in tests) a transport that stands in for the provider."""

    @property
    def name(self) -> str: ...

    def __call__(
        self,
        settings: S_contra,
        metrics: WorkerMetrics | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Integration: ...


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


def worker_routers(
    held: HeldEvents,
    settings: WorkerSettings,
    *,
    group: str,
    events_topic: str,
    replays_topic: str,
) -> list[KafkaRouter]:
    """The worker's two typed handlers, each with its own consumer group: the customer events,
    taken into the step queue (committed in order once done), and its own replay topic, run at
    once (an operator waits for it) on a router that commits after the effect."""
    loop = held.loop
    options = consumer_options(settings)
    # more consumers than partitions would sit idle (and slow every rebalance)
    replay_options = {
        **options,
        "max_workers": min(settings.concurrency, TOPIC_PARTITIONS.get(replays_topic, 3)),
    }
    router = consumer_router(loop.commit_policy())
    events = consumer_router(
        replace(loop.commit_policy(), commit_on_return=False, settle=held.offsets.settle_now)
    )
    decoder = decode_as(CustomerEvent)

    @events.subscriber(
        events_topic,
        group_id=group,
        decoder=decoder,
        title=f"{loop.name}:{events_topic}",
        description=f"Consumer group `{group}`: the {loop.name} worker makes its provider "
        "match each customer event.",
        **options,
    )
    async def on_customer_event(event: CustomerEvent, msg: MessageOf) -> None:
        await held.take(event, msg)

    @router.subscriber(
        replays_topic,
        group_id=f"{group}-replay",
        decoder=decoder,
        title=f"{loop.name}:{replays_topic}",
        description=f"Consumer group `{group}-replay`: a failed step an operator replays from "
        "the console or the admin API.",
        **replay_options,
    )
    async def on_replay(event: CustomerEvent) -> None:
        await loop.handle(event, replay=True)

    return [events, router]


def subscribe_worker(
    broker: KafkaBroker,
    loop: WorkerLoop,
    settings: WorkerSettings,
    *,
    group: str,
    events_topic: str,
    replays_topic: str,
) -> HeldEvents:
    held = HeldEvents(loop, settings)
    for router in worker_routers(
        held, settings, group=group, events_topic=events_topic, replays_topic=replays_topic
    ):
        broker.include_router(router)
    return held


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


@dataclass(frozen=True)
class WorkerAdapters:
    """What a worker talks to besides Kafka. The bootstrap passes the real ones
    (`store_adapters`); tests pass the in-memory dedupe fake and a fake provider transport."""

    dedupe: DedupeRecords
    #: the provider's HTTP transport; None: the network
    transport: httpx.AsyncBaseTransport | None = None
    readiness: Mapping[str, ReadinessCheck] = field(default_factory=dict)
    close: Sequence[Step] = ()
    #: where the month's provider calls are added up; None: in memory (tests)
    usage: UsageStore | None = None
    #: reconcile sweeps (`libs/reconcile`): where they are asked for and recorded, and the
    #: canonical state they compare with; either None: this worker does not sweep
    sweeps: SweepStore | None = None
    canonical: CanonicalStates | None = None


#: builds the canonical-state reader on the store (ingest's, passed in by each worker's main)
CanonicalFactory = Callable[[AsyncDatabase[dict[str, Any]]], CanonicalStates]


def store_adapters(
    settings: WorkerSettings, name: str, canonical: CanonicalFactory | None = None
) -> WorkerAdapters:
    """The production adapters: the dedupe records, the month's provider calls and the sweeps
    in MongoDB, the provider over the network."""
    mongo = make_client(settings)
    db = database(mongo, settings)
    return WorkerAdapters(
        dedupe=MongoDedupe(db, name),
        usage=MongoUsage(db),
        readiness={"mongodb": lambda: ping(mongo)},
        close=[mongo.close],
        sweeps=MongoSweepStore(db),
        canonical=canonical(db) if canonical is not None else None,
    )


def create_worker_app(
    integration_type: IntegrationType[S],
    settings: S,
    adapters: WorkerAdapters | None = None,
    *,
    canonical: CanonicalFactory | None = None,
) -> FastAPI:
    """The worker; `adapters` None: the real ones, with `canonical` reading the canonical
    state for reconcile sweeps."""
    name = integration_type.name
    configure_logging(settings.service_name, settings.log_level)
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    metrics.start_at_zero(name)
    # Built here, not in the lifespan: none of it does I/O until the broker starts, and the
    # handlers (and the AsyncAPI document made from them) need the loop. The integration comes
    # first: it reads the mapping, so a bad file stops the service at start, before any client
    # is made (and not at the first event).
    integration = integration_type(
        settings, metrics, transport=adapters.transport if adapters else None
    )
    adapters = adapters or store_adapters(settings, name, canonical)
    # every provider call waits on its pacer and is counted against the month (provider_http.py)
    budget = ProviderBudget.for_worker(name, settings, adapters.usage or InMemoryUsage(), metrics)
    metrics.budget = budget
    broker = make_broker(settings)
    group = group_id(settings, name)
    loop = WorkerLoop(integration, settings, broker, adapters.dedupe, metrics)
    held = HeldEvents(loop, settings, budget.pacer)
    routers = worker_routers(
        held, settings, group=group, events_topic=CUSTOMER_EVENTS, replays_topic=replay_topic(name)
    )

    async def drain() -> None:
        if sweeps is not None:
            sweeps.stop()
        budget.stop()  # a call waiting for its turn hands its message back
        loop.stop()  # a step waiting between retries hands its events back
        await held.stop(settings.shutdown_grace_seconds)  # and the steps on the wire finish
        drained = await loop.drain(settings.shutdown_grace_seconds)
        log.info("worker_drained", integration=name, complete=drained, left=loop.in_flight)

    def lag() -> Coroutine[Any, Any, None]:
        topics = {group: CUSTOMER_EVENTS, f"{group}-replay": replay_topic(name)}
        return monitor_lag(settings.kafka_bootstrap_servers, topics, metrics.lag)

    sweeps = reconcile_scheduler(integration, settings, loop, adapters, registry)
    app = create_service_app(
        broker,
        ServiceParts(
            title=f"Switchboard {name} worker",
            registry=registry,
            routers=routers,
            readiness=adapters.readiness,
            loops=[lag, budget.usage.run, *([sweeps.run] if sweeps else [])],
            # SIGTERM: start nothing new, let attempts in flight finish, hand back what waits
            # between retries, and only then leave the consumer group (see `stop_worker`)
            stop=[drain],
            close=[integration.aclose, budget.close, *adapters.close],
        ),
    )
    app.state.loop = loop
    app.state.held = held
    app.state.sweeps = sweeps
    return app


def reconcile_scheduler(
    integration: Integration,
    settings: WorkerSettings,
    loop: WorkerLoop,
    adapters: WorkerAdapters,
    registry: CollectorRegistry,
) -> SweepScheduler | None:
    """The worker's reconcile sweeps, when it has a sweeps store, the canonical state and an
    integration that can be audited (pages its provider: `observe`)."""
    if adapters.sweeps is None or adapters.canonical is None:
        return None
    if not hasattr(integration, "observe"):
        return None
    metrics = ReconcileMetrics(registry)
    metrics.start_at_zero(integration.name, settings.reconcile_interval_seconds)
    ctx = SweepContext(
        auditor=cast(Auditable, integration),
        settings=settings,
        dedupe=adapters.dedupe,
        canonical=adapters.canonical,
        store=adapters.sweeps,
        outlet=TopicOutlet(integration.name, loop.steps.publish),
        metrics=metrics,
    )
    return SweepScheduler(ctx)
