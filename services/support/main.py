"""Support's bootstrap: failure intake, Zendesk tickets, the ops console and the admin API.
Builds the real adapters from settings and hands routers and adapters to the runtime's app
factory; nothing connects at import."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry

from libs.reconcile.store import MongoSweepStore
from libs.runtime.app import ServiceParts, create_service_app
from libs.runtime.broker import make_broker
from libs.runtime.logging import configure_logging
from libs.runtime.mongo import database, make_client, ping
from libs.runtime.pacing import Pacer
from libs.runtime.provider_http import ProviderHttp
from services.ingest.read_model import MongoCustomerReadModel

from .api import api_router
from .auth import COOKIE, AccessGuard, AdminTokens, unauthorized_counter
from .canary_metrics import CanaryGauges, CanaryRuns, refresh_forever
from .console import (
    SECURITY_HEADERS,
    LoginRequired,
    console_router,
    is_console,
    login_page,
    templates,
)
from .consumers import support_routers
from .metrics import SupportMetrics
from .mongo_records import (
    MongoFailedSteps,
    MongoIncidentRecords,
    MongoTimelines,
    create_indexes,
)
from .ports import Records
from .service import build_support, sweep_forever
from .settings import SupportSettings
from .zendesk import ZendeskClient

#: kept for `python -m services.support` and older imports
Settings = SupportSettings


def create_app(settings: SupportSettings | None = None) -> FastAPI:
    settings = settings or SupportSettings.load()
    configure_logging(settings.service_name, settings.log_level)
    registry = CollectorRegistry()
    metrics = SupportMetrics(registry)
    metrics.start_at_zero(settings.integrations)
    canary = CanaryGauges(registry)  # from the runs `switchboard canary` records
    mongo = make_client(settings)
    db = database(mongo, settings)
    records = Records(MongoIncidentRecords(db), MongoFailedSteps(db), MongoTimelines(db))
    broker = make_broker(settings)
    zendesk = ZendeskClient(
        ProviderHttp(
            "zendesk",
            ZendeskClient.make_client(
                settings.zendesk_base_url,
                settings.zendesk_email,
                settings.zendesk_token.get_secret_value(),
                settings.http_timeout_seconds,
            ),
            None,
            # Zendesk's published limit (Team plan: 200 requests a minute per account)
            pacer=Pacer(settings.zendesk_rate_limit, settings.zendesk_rate_window_seconds),
        )
    )
    support = build_support(
        records,
        zendesk,
        broker,
        metrics,
        console_url=settings.console_url,
        integrations=list(settings.integrations),
        sweeps=MongoSweepStore(db),
        timeline_limit=settings.timeline_limit,
    )
    customers = MongoCustomerReadModel(db)
    tokens = AdminTokens([t.get_secret_value() for t in settings.admin_tokens])
    guard = AccessGuard(settings, unauthorized_counter(registry))
    pages = templates()
    app = create_service_app(
        broker,
        ServiceParts(
            title="Switchboard support",
            registry=registry,
            routers=support_routers(support, settings),
            http_routers=[
                api_router(support, customers),
                console_router(settings, support, customers, tokens, metrics, pages, guard),
            ],
            readiness={"mongodb": lambda: ping(mongo)},
            store_setup={"indexes": lambda: create_indexes(db)},
            loops=[
                lambda: sweep_forever(support, settings.sweep_interval_seconds),
                lambda: refresh_forever(canary, CanaryRuns(db)),
            ],
            close=[zendesk.aclose, mongo.close],
            openapi=True,
        ),
    )

    @app.middleware("http")
    async def admin_api_token(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # Before routing and body parsing, so every /api route answers 429 past its throttle
        # and 401 without a token, whatever else is wrong with the request.
        path = request.url.path
        if path == "/api" or path.startswith("/api/"):
            refused = guard.admin_api(request, tokens)
            if refused is not None:
                return refused
            return await call_next(request)
        response = await call_next(request)
        if is_console(path):
            response.headers.update(SECURITY_HEADERS)
        return response

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        response = login_page(request, pages, exc.next_path, None, 401)
        if COOKIE in request.cookies:  # a wrong or stale token: counted once, then forgotten
            response.delete_cookie(COOKIE, path="/")
        return response

    app.state.support = support
    return app
