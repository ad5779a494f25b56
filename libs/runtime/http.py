"""What every service serves over HTTP: health, readiness, metrics and JSON errors.

`/healthz` says the process is alive (it never touches a dependency, so a slow database does not
get pods restarted); `/readyz` runs the service's readiness checks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .logging import get_logger

log = get_logger()

#: how long a client should wait before trying again when the store is unreachable; Stripe
#: redelivers on its own schedule, which is longer
STORE_RETRY_AFTER_SECONDS = 5

ReadinessCheck = Callable[[], Awaitable[bool]]


class ApiError(Exception):
    """An error with a stable code, answered as `{"error": code, "message": ...}`."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})  # e.g. `Retry-After` on a 429


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status)


def make_http_app(
    *,
    title: str,
    registry: CollectorRegistry,
    readiness: Mapping[str, ReadinessCheck],
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    openapi: bool = False,
) -> FastAPI:
    app = FastAPI(
        title=title,
        lifespan=lifespan,
        openapi_url="/openapi.json" if openapi else None,
        docs_url="/docs" if openapi else None,
        redoc_url=None,
    )

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        response = error_response(exc.status, exc.code, exc.message)
        response.headers.update(exc.headers)
        return response

    # Starlette's HTTPException (FastAPI's is a subclass): what routing (404, 405) and body
    # parsing (400) raise, so these answer with our error shape too
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
        response = error_response(
            exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail)
        )
        response.headers.update(exc.headers or {})  # e.g. `Allow` on a 405
        return response

    @app.exception_handler(PyMongoError)
    async def _store_error(request: Request, exc: PyMongoError) -> JSONResponse:
        # The store is down or unreachable: nothing was changed (or, for a webhook, nothing was
        # acknowledged), so the caller can safely try again. Never a plain-text 500.
        log.warning(
            "store_unavailable", path=request.url.path, error=type(exc).__name__, status=503
        )
        response = error_response(
            503, "store_unavailable", "the data store is unavailable; try again shortly"
        )
        response.headers["Retry-After"] = str(STORE_RETRY_AFTER_SECONDS)
        return response

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_error", path=request.url.path, error=type(exc).__name__, status=500)
        return error_response(500, "internal_error", "an unexpected error occurred")

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]), "problem": err["msg"]}
            for err in exc.errors()
        ]
        return error_response(422, "invalid_request", "the request is not valid", details=problems)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        names = list(readiness)
        results = await asyncio.gather(*(readiness[name]() for name in names))
        checks = dict(zip(names, results, strict=True))
        ready = all(results)
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
