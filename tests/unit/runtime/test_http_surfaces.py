"""What a service serves depends on where it runs: API docs only in local mode, `/metrics` on a
listener of its own when the service has a separate metrics port (ingest, support), and every
unhandled error one JSON answer and one JSON log line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import structlog
from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry, Counter

from libs.runtime.app import for_deployment
from libs.runtime.http import make_http_app
from libs.runtime.integration import WorkerSettings
from libs.runtime.logging import configure_logging
from libs.runtime.settings import ServiceSettings
from services.ingest.settings import IngestSettings
from services.support.settings import SupportSettings


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**saved)
    root.handlers[:], root.level = handlers, level


def app_with(registry: CollectorRegistry) -> FastAPI:
    app = make_http_app(title="svc", registry=registry, readiness={}, openapi=True)
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret-ish detail jane@example.com")

    app.include_router(router)
    app.state.registry = registry
    return app


async def get(app: object, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return await client.get(path)


def settings(**values: object) -> ServiceSettings:
    return ServiceSettings.load(env="local", **values)


def test_metrics_port_defaults() -> None:
    assert IngestSettings.model_fields["metrics_port"].default == 9180
    assert SupportSettings.model_fields["metrics_port"].default == 9181
    assert WorkerSettings.model_fields["metrics_port"].default is None
    assert settings(port=9101).separate_metrics_port is None
    assert settings(port=9101, metrics_port=9101).separate_metrics_port is None
    assert settings(port=8080, metrics_port=9180).separate_metrics_port == 9180


async def test_metrics_move_to_their_own_listener() -> None:
    registry = CollectorRegistry()
    Counter("switchboard_probe", "a probe", registry=registry).inc()
    app = app_with(registry)
    listener = for_deployment(app, settings(port=8080, metrics_port=9180))
    assert listener is not None
    main = await get(app, "/metrics")
    assert main.status_code == 404
    assert main.json()["error"] == "not_found"
    assert (await get(app, "/healthz")).status_code == 200
    scraped = await get(listener, "/metrics")
    assert scraped.status_code == 200
    assert "switchboard_probe_total 1.0" in scraped.text
    for path in ("/healthz", "/readyz", "/boom", "/"):
        other = await get(listener, path)
        assert other.status_code == 404
        assert other.json()["error"] == "not_found"


async def test_a_worker_keeps_metrics_on_its_port() -> None:
    app = app_with(CollectorRegistry())
    assert for_deployment(app, settings(port=9101)) is None
    assert (await get(app, "/metrics")).status_code == 200


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/docs/oauth2-redirect"])
async def test_api_docs_only_in_local_mode(path: str) -> None:
    local = app_with(CollectorRegistry())
    for_deployment(local, settings())
    assert (await get(local, path)).status_code == 200
    production = app_with(CollectorRegistry())
    hosted = ServiceSettings.model_construct(env="production", port=8080, metrics_port=None)
    assert hosted.api_docs is False
    for_deployment(production, hosted)
    answer = await get(production, path)
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"
    assert (await get(production, "/healthz")).status_code == 200


async def test_an_unhandled_error_is_a_json_500_and_one_json_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("svc")
    capsys.readouterr()
    answer = await get(app_with(CollectorRegistry()), "/boom")
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal_error", "message": "an unexpected error occurred"}
    out = capsys.readouterr()
    lines = [line for line in (out.out + out.err).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    logged = json.loads(lines[0])
    assert logged["message"] == "unhandled_error"
    assert logged["error"] == "RuntimeError"
    assert logged["path"] == "/boom"
    assert "test_http_surfaces.py:" in logged["where"]  # where it was raised, for the fix
    # neither the exception's text nor a traceback is written
    assert "jane@example.com" not in lines[0]
    assert "Traceback" not in lines[0]
