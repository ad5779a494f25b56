"""What every service serves over HTTP: health, readiness, metrics and JSON errors.

`/healthz` says the process is alive (it never touches a dependency, so a slow database does not
get pods restarted); `/readyz` runs the service's readiness checks. `/metrics` is on the main app
for the workers; ingest and support serve it from `metrics_app` on a port of its own (see
`serve.py`), which only monitoring may reach.

Every error answers JSON. An unhandled one is caught by `CatchAll`, inside Starlette's
`ServerErrorMiddleware`: that middleware re-raises after answering, and the server would then
log the traceback a second time; caught here, it is one JSON line and one JSON 500.
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
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    response = JSONResponse({"error": code, "message": message, **extra}, status_code=status)
    response.headers.update(headers or {})
    return response


def _where(exc: BaseException) -> str:
    """The innermost frame of a traceback as `file:line`: enough to find the bug, without the
    traceback's locals, arguments or messages (which may hold a customer's data)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else "unknown"


def log_unhandled(path: str, exc: BaseException) -> None:
    log.error("unhandled_error", path=path, error=type(exc).__name__, where=_where(exc), status=500)


def internal_error() -> JSONResponse:
    return error_response(500, "internal_error", "an unexpected error occurred")


class CatchAll:
    """Pure ASGI: an exception no handler took becomes one log line and a JSON 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            log_unhandled(scope.get("path", ""), exc)
            if not started:  # otherwise the client sees the connection end mid-answer
                await internal_error()(scope, receive, send)


def metrics_response(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def metrics_app(registry: CollectorRegistry) -> Starlette:
    """The metrics listener: `/metrics` and nothing else (a JSON 404 for any other path)."""

    async def metrics(_: Request) -> Response:
        return metrics_response(registry)

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        codes = {404: "not_found", 405: "method_not_allowed"}
        code = codes.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)

    return Starlette(
        routes=[Route("/metrics", metrics, methods=["GET"])],
        exception_handlers={StarletteHTTPException: http_error},
    )


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

    # What `CatchAll` cannot see: an error raised by a middleware added after it (outside it)
    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log_unhandled(request.url.path, exc)
        return internal_error()

    app.add_middleware(CatchAll)

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

    # `for_deployment` (app.py) takes it away when it has a listener of its own
    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return metrics_response(registry)

    return app
