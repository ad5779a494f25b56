"""Composition root of ingest: builds settings, adapters and routes; nothing runs at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry

from libs.runtime.broker import make_broker
from libs.runtime.http import make_http_app
from libs.runtime.lifecycle import (
    background,
    start_broker_when_reachable,
    when_store_reachable,
)
from libs.runtime.logging import configure_logging
from libs.runtime.mongo import database, make_client, ping

from .apply_stage import ApplyStage
from .incidents import subscribe_incidents
from .intake import EventIntake
from .metrics import IngestMetrics
from .relay import OutboxRelay
from .results import subscribe_results
from .routes import webhook_router
from .service import IngestService
from .settings import IngestSettings
from .status import status_router
from .store import IngestStore
from .stripe_api import StripeApi


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings.load()
    configure_logging(settings.service_name, settings.log_level)
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    metrics.start_at_zero()
    mongo = make_client(settings)
    store = IngestStore(database(mongo, settings))
    # The request path's inserts get a connection of their own, so they never queue behind the
    # apply stage's bulk writes (the local URI allows one connection per client).
    intake_mongo = make_client(settings)
    intake_store = IngestStore(database(intake_mongo, settings))
    intake = EventIntake(intake_store.events, intake_store.unfinished)
    # The status API's reads get one too: the app's "did my payment go through?" must answer
    # within its budget while the relay and the apply stage drain a backlog.
    status_mongo = make_client(settings)
    status_store = IngestStore(database(status_mongo, settings))
    broker = make_broker(settings)
    stripe_http = StripeApi.make_client(
        settings.stripe_api_base_url, settings.stripe_api_key.get_secret_value()
    )
    service = IngestService(store, intake, broker, StripeApi(stripe_http), metrics)
    stage = ApplyStage(service, store)
    service.stage = stage
    subscribe_results(broker, service, settings)
    subscribe_incidents(broker, store, settings)
    relay = OutboxRelay(
        service,
        store,
        metrics,
        stage,
        after_seconds=settings.relay_after_seconds,
        interval_seconds=settings.relay_interval_seconds,
        sweep_seconds=settings.relay_sweep_seconds,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with background(
            when_store_reachable(store.create_indexes, "create_indexes"),
            start_broker_when_reachable(broker),
            stage.run_forever(),
            relay.run_forever(),
        ):
            yield
            await service.drain()
        await intake.close()
        await broker.stop()
        await stripe_http.aclose()
        await mongo.close()
        await intake_mongo.close()
        await status_mongo.close()

    app = make_http_app(
        title="Switchboard ingest",
        registry=registry,
        readiness={"mongodb": lambda: ping(mongo)},
        lifespan=lifespan,
        openapi=True,
    )
    app.include_router(webhook_router(settings, service, metrics))
    app.include_router(status_router(settings, status_store))
    if settings.bench_bare_endpoint:

        @app.post("/bench/bare", include_in_schema=False)
        async def bare(request: Request) -> dict[str, bool]:
            await request.body()  # read the body, as the webhook route does
            return {"received": True}

    app.state.service = service
    app.state.broker = broker
    app.state.relay = relay
    return app
