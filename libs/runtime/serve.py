"""Run a service's ASGI app with uvicorn, the same way locally and in Kubernetes.

One process, one event loop, up to two listeners: the main port (health, readiness, the public
or admin routes) and, when the service has a separate metrics port, a second uvicorn server that
answers only `/metrics`. The main server owns the signals and the app's lifespan; the metrics
server has neither and stops when the main one has finished.

Importing this module (every service's `__main__` does so first) makes an uncaught exception,
e.g. settings refused at start, one JSON line instead of a raw traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from .app import for_deployment
from .settings import ServiceSettings


def _json_excepthook(
    kind: type[BaseException], exc: BaseException, _: TracebackType | None
) -> None:
    # Before `configure_logging` has run there is no logger to use. A settings error's own
    # messages say which setting; its full text would echo the input values, secrets included.
    if isinstance(exc, ValidationError):
        detail = "; ".join(str(error["msg"]) for error in exc.errors())
    else:
        detail = str(exc).replace("\n", " ")
    line = {"level": "critical", "message": "service_failed", "error": kind.__name__}
    print(json.dumps({**line, "detail": detail}), file=sys.stderr, flush=True)


sys.excepthook = _json_excepthook


class _MetricsServer(uvicorn.Server):
    """Leaves signals to the main server (two servers capturing them would each restore the
    other's handler, and only one would hear SIGTERM)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _config(
    app: Any, settings: ServiceSettings, port: int, lifespan: Literal["on", "off"]
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=port,
        log_config=None,  # our JSON logging is configured already (uvicorn's lines go through it)
        access_log=False,
        timeout_graceful_shutdown=30,
        lifespan=lifespan,
    )


async def serve_async(app: FastAPI, settings: ServiceSettings) -> None:
    listener = for_deployment(app, settings)
    main = uvicorn.Server(_config(app, settings, settings.port, "on"))
    port = settings.separate_metrics_port
    if listener is None or port is None:
        await main.serve()
        return
    metrics = _MetricsServer(_config(listener, settings, port, "off"))
    side = asyncio.create_task(_metrics_or_stop(metrics, main))
    try:
        await main.serve()
    finally:
        metrics.should_exit = True
        failed = await side
    if failed:
        raise SystemExit(3)  # uvicorn's code for a server that could not start


async def _metrics_or_stop(metrics: uvicorn.Server, main: uvicorn.Server) -> bool:
    """Serve metrics; if the listener cannot start (its port taken), stop the main server too,
    through its own shutdown, and say so: a pod nobody can scrape must not look healthy."""
    try:
        await metrics.serve()
    except SystemExit:  # uvicorn exits this way when it cannot bind
        main.should_exit = True
        return True
    return False


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    # the loop uvicorn.run would pick (uvloop when installed)
    loop_factory = _config(app, settings, settings.port, "on").get_loop_factory()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve_async(app, settings))
