"""Ingest's bootstrap: real adapters from settings, handed with the routers to the runtime's
app factory (which owns the broker, the lifespan, readiness and `/metrics`)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from prometheus_client import CollectorRegistry

from libs.runtime.app import ServiceParts, create_service_app
from libs.runtime.broker import make_broker
from libs.runtime.logging import configure_logging
from libs.runtime.mongo import database, make_client, ping

from .assembly import assemble
from .checkout_claims import keep_for, prune_forever
from .checkout_status import checkout_status_router
from .customers import MongoCustomers
from .event_log_mongo import MongoEventLog
from .metrics import IngestMetrics
from .routes import webhook_router
from .settings import IngestSettings
from .status import status_router
from .status_token import status_token_router
from .stripe_api import StripeApi


def bench_router() -> APIRouter:
    router = APIRouter()

    @router.post("/bench/bare", include_in_schema=False)
    async def bare(request: Request) -> dict[str, bool]:
        await request.body()  # read the body, as the webhook route does
        return {"received": True}

    return router


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings.load()
    configure_logging(settings.service_name, settings.log_level)
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    metrics.start_at_zero()
    # Three clients: the request path's inserts and the status API's reads each get a
    # connection of their own (the local URI allows one per client), so neither queues behind
    # the apply stage's bulk writes while a backlog drains.
    mongo, intake_mongo, status_mongo = (make_client(settings) for _ in range(3))
    customers = MongoCustomers(database(mongo, settings))
    events = MongoEventLog(database(mongo, settings))
    stripe_http = StripeApi.make_client(
        settings.stripe_api_base_url, settings.stripe_api_key.get_secret_value()
    )
    broker = make_broker(settings)
    ingest = assemble(
        settings,
        broker,
        customers,
        events,
        StripeApi(stripe_http),
        metrics,
        intake_events=MongoEventLog(database(intake_mongo, settings)),
    )
    status_customers = MongoCustomers(database(status_mongo, settings))
    http = [
        webhook_router(settings, ingest.service, metrics),
        status_router(settings, status_customers, registry=registry),
        checkout_status_router(settings, status_customers),
        status_token_router(settings, status_customers),
    ]
    app = create_service_app(
        broker,
        ServiceParts(
            title="Switchboard ingest",
            registry=registry,
            routers=ingest.routers,
            http_routers=[*http, *([bench_router()] if settings.bench_bare_endpoint else [])],
            readiness={"mongodb": lambda: ping(mongo)},
            store_setup={
                "create_indexes": events.create_indexes,
                "customer_indexes": customers.create_indexes,
            },
            loops=[
                ingest.stage.run_forever,
                ingest.relay.run_forever,
                lambda: prune_forever(customers, keep_for(settings.checkout_status_ttl_seconds)),
            ],
            stop=[ingest.service.drain],
            close=[
                ingest.service.intake.close,
                stripe_http.aclose,
                mongo.close,
                intake_mongo.close,
                status_mongo.close,
            ],
            openapi=True,
        ),
    )
    app.state.service = ingest.service
    app.state.relay = ingest.relay
    return app
