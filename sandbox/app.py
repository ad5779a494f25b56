"""The sandbox's composition root: local stand-ins for Circle, Kit, HubSpot, Zendesk and the
Stripe API, the test-control API, and the Stripe event sender, in one FastAPI app.

Point a service's `SWITCHBOARD_<PROVIDER>_BASE_URL` at `http://127.0.0.1:8070/<provider>` and it
talks to the stand-in with the real paths, headers and bodies.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from sandbox import control, doctor_routes, trigger
from sandbox.circle import routes as circle
from sandbox.faults import FaultMiddleware
from sandbox.guard import CrossSiteGuard, ProviderSpec
from sandbox.http import ReplyNow
from sandbox.hubspot import routes as hubspot
from sandbox.kit import routes as kit
from sandbox.records import WALL_CLOCK, Clock
from sandbox.settings import SandboxSettings
from sandbox.state import Sandbox
from sandbox.stripe import routes as stripe
from sandbox.zendesk import routes as zendesk

SPECS: dict[str, ProviderSpec] = {
    spec.name: spec for spec in (circle.SPEC, kit.SPEC, hubspot.SPEC, zendesk.SPEC, stripe.SPEC)
}


def create_app(
    settings: SandboxSettings | None = None,
    *,
    ingest_transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = WALL_CLOCK,
) -> FastAPI:
    """Build the app. `ingest_transport` lets tests catch the events sent to ingest in-process;
    `clock` drives the timestamps and the Zendesk idempotency expiry."""
    settings = settings or SandboxSettings()
    app = FastAPI(
        title="Switchboard sandbox",
        description="Local stand-ins for the providers Switchboard talks to. Dev and tests only.",
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
        redoc_url=None,
    )
    app.state.sandbox = Sandbox(settings, clock)
    app.state.ingest_transport = ingest_transport
    providers = (circle.router, kit.router, hubspot.router, zendesk.router, stripe.router)
    for router in (*providers, control.router, doctor_routes.router, trigger.router):
        app.include_router(router)
    # The providers' own routes (full paths), for naming a faulted request by its template.
    routes = [route for router in providers for route in router.routes]
    app.add_middleware(FaultMiddleware, sandbox=app.state.sandbox, specs=SPECS, routes=routes)
    # Outermost: a write from a web page is refused before faults, auth or counting.
    app.add_middleware(CrossSiteGuard, settings=settings)

    @app.exception_handler(ReplyNow)
    async def reply_now(_: Request, exc: ReplyNow) -> Response:
        return exc.response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        # Routers parse by hand, so this is only reached by a malformed path or query.
        return control.error("invalid_request", str(exc.errors()), 422)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
