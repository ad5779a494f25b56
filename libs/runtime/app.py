"""The one app factory: every service is its routers plus its adapters, and this owns the rest.

A service's `main.py` is a bootstrap: it builds its adapters (real ones from settings; tests pass
fakes), its FastStream routers of typed handlers (whose middleware is the one commit-after-effect
policy of `consuming.py`) and its HTTP routes, and hands them to `create_service_app`, which owns:

- the broker: the routers are included in it, it is started in the background until Kafka
  answers (a service comes up while Kafka is down) and stopped last;
- the lifespan: start-up steps retried until the store answers, background loops, then on
  shutdown the service's `stop` steps (drain what is in flight) *before* the broker leaves its
  consumer groups, then `close` steps;
- `/healthz`, `/readyz` (Kafka and the service's own checks) and `/metrics`.

`for_deployment` then applies what depends on where the app runs (called by `serve.py`, so every
service gets it without its bootstrap knowing): API docs only in local mode, and `/metrics` moved
to its own listener when the service has a separate metrics port.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker, KafkaRouter
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from .http import ReadinessCheck, make_http_app, metrics_app
from .lifecycle import background, start_broker_when_reachable, when_store_reachable
from .settings import ServiceSettings

Step = Callable[[], Awaitable[Any]]


@dataclass
class ServiceParts:
    """What a service contributes; everything else is the factory's."""

    title: str
    registry: CollectorRegistry
    #: FastStream routers of the service's typed handlers (`consuming.consumer_router`)
    routers: Sequence[KafkaRouter] = ()
    http_routers: Sequence[APIRouter] = ()
    readiness: Mapping[str, ReadinessCheck] = field(default_factory=dict)
    #: start-up steps against the store (indexes, backfills), retried until it answers
    store_setup: Mapping[str, Step] = field(default_factory=dict)
    #: loops that run for the app's life (relays, sweepers, lag monitors)
    loops: Sequence[Callable[[], Coroutine[Any, Any, Any]]] = ()
    #: on shutdown, before the broker stops: let in-flight work finish or hand it back
    stop: Sequence[Step] = ()
    #: after the broker stopped: close clients
    close: Sequence[Step] = ()
    openapi: bool = False


def kafka_readiness(broker: KafkaBroker) -> ReadinessCheck:
    async def ready() -> bool:
        try:
            return bool(await broker.ping(timeout=2.0))
        except Exception:  # readiness only reports
            return False

    return ready


def create_service_app(broker: KafkaBroker, parts: ServiceParts) -> FastAPI:
    for router in parts.routers:
        broker.include_router(router)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        setup = [when_store_reachable(step, name) for name, step in parts.store_setup.items()]
        async with background(
            *setup, start_broker_when_reachable(broker), *(loop() for loop in parts.loops)
        ):
            yield
            for stop in parts.stop:
                await stop()
            await broker.stop()
        for close in parts.close:
            await close()

    readiness: dict[str, ReadinessCheck] = dict(parts.readiness)
    if parts.routers:
        readiness["kafka"] = kafka_readiness(broker)
    app = make_http_app(
        title=parts.title,
        registry=parts.registry,
        readiness=readiness,
        lifespan=lifespan,
        openapi=parts.openapi,
    )
    for http_router in parts.http_routers:
        app.include_router(http_router)
    app.state.broker = broker
    app.state.registry = parts.registry
    return app


def _path(route: BaseRoute) -> str | None:
    return getattr(route, "path", None)


def for_deployment(app: FastAPI, settings: ServiceSettings) -> Starlette | None:
    """Drop what this deployment must not serve from `app`; return the metrics listener's app
    when `/metrics` moved to a port of its own (the main app then answers 404 there)."""
    dropped: set[str] = set()
    if not settings.api_docs:
        for attr in ("openapi_url", "docs_url", "redoc_url"):
            if url := getattr(app, attr):
                dropped.add(url)
                setattr(app, attr, None)
        dropped.add("/docs/oauth2-redirect")
    listener = None
    if settings.separate_metrics_port is not None:
        dropped.add("/metrics")
        listener = metrics_app(app.state.registry)
    app.router.routes[:] = [r for r in app.router.routes if _path(r) not in dropped]
    return listener
