"""Run a service's ASGI app with uvicorn, the same way locally and in Kubernetes."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from .settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our JSON logging is configured already
        access_log=False,
        timeout_graceful_shutdown=30,
        lifespan="on",
    )
