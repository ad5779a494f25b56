"""Composition root of support: failure intake, Zendesk tickets, the ops console and the admin
API. Builds settings, adapters and routes; nothing connects at import."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry

from libs.runtime.broker import make_broker
from libs.runtime.http import error_response, make_http_app
from libs.runtime.lifecycle import background, start_broker_when_reachable
from libs.runtime.logging import configure_logging
from libs.runtime.mongo import database, make_client, ping
from libs.runtime.provider_http import ProviderHttp

from .api import api_router
from .auth import AdminTokens
from .console import LoginRequired, console_router, login_page, templates
from .consumers import subscribe
from .metrics import SupportMetrics
from .service import SupportService
from .settings import SupportSettings
from .store import SupportStore
from .zendesk import ZendeskClient

#: kept for `python -m services.support` and older imports
Settings = SupportSettings


def create_app(settings: SupportSettings | None = None) -> FastAPI:
    settings = settings or SupportSettings.load()
    configure_logging(settings.service_name, settings.log_level)
    registry = CollectorRegistry()
    metrics = SupportMetrics(registry)
    metrics.start_at_zero(settings.integrations)
    mongo = make_client(settings)
    store = SupportStore(database(mongo, settings))
    broker = make_broker(settings)
    zendesk_http = ZendeskClient.make_client(
        settings.zendesk_base_url,
        settings.zendesk_email,
        settings.zendesk_token.get_secret_value(),
        settings.http_timeout_seconds,
    )
    zendesk = ZendeskClient(ProviderHttp("zendesk", zendesk_http, None))
    service = SupportService(
        store,
        zendesk,
        broker,
        metrics,
        console_url=settings.console_url,
        integrations=list(settings.integrations),
        timeline_limit=settings.timeline_limit,
    )
    subscribe(broker, service, settings, metrics)
    tokens = AdminTokens([t.get_secret_value() for t in settings.admin_tokens])
    pages = templates()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await store.create_indexes()
        sweeper = service.sweep_forever(settings.sweep_interval_seconds)
        async with background(start_broker_when_reachable(broker), sweeper):
            yield
            await broker.stop()
        await zendesk.aclose()
        await mongo.close()

    async def kafka_ready() -> bool:
        try:
            return bool(await broker.ping(timeout=2.0))
        except Exception:
            return False

    app = make_http_app(
        title="Switchboard support",
        registry=registry,
        readiness={"mongodb": lambda: ping(mongo), "kafka": kafka_ready},
        lifespan=lifespan,
        openapi=True,
    )

    @app.middleware("http")
    async def admin_api_token(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # Before routing and body parsing, so every /api route answers 401 without a token,
        # whatever else is wrong with the request.
        path = request.url.path
        if (path == "/api" or path.startswith("/api/")) and not tokens.valid(
            tokens.bearer(request)
        ):
            return error_response(401, "unauthorized", "a valid admin bearer token is required")
        return await call_next(request)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return login_page(request, pages, exc.next_path, None, 401)

    app.include_router(api_router(store, service))
    app.include_router(console_router(settings, store, service, tokens, metrics, pages))
    app.state.service = service
    app.state.broker = broker
    return app
