"""The email status API is throttled per client IP and per presented token (429 with
`Retry-After`, before the token is even checked), and counts its 401s."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from libs.runtime.http import make_http_app
from services.ingest.customers import InMemoryCustomers
from services.ingest.settings import IngestSettings
from services.ingest.status import StatusThrottle, status_router, token_key

APP = {"Authorization": "Bearer local-app-token"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def app(clock: FakeClock, registry: CollectorRegistry | None = None, **limits: object) -> FastAPI:
    settings = IngestSettings.load(env="local", **limits)
    registry = registry or CollectorRegistry()
    http = make_http_app(title="test", registry=registry, readiness={})
    http.include_router(
        status_router(
            settings,
            InMemoryCustomers(),
            registry=registry,
            throttle=StatusThrottle(settings, clock=clock),
        )
    )
    return http


def status(client: TestClient, headers: dict[str, str] | None = None) -> int:
    response = client.get(
        "/v1/customers/status", params={"email": "nobody@example.com"}, headers=headers or {}
    )
    return int(response.status_code)


def test_defaults_are_sixty_a_minute_per_ip_and_six_hundred_per_token() -> None:
    settings = IngestSettings.load(env="local")
    assert settings.status_rate_limit_per_ip == 60
    assert settings.status_rate_limit_per_token == 600
    assert settings.status_rate_window_seconds == 60


def test_an_address_over_its_limit_gets_429_with_retry_after_then_recovers() -> None:
    clock = FakeClock()
    client = TestClient(app(clock, status_rate_limit_per_ip=3, status_rate_window_seconds=60))
    assert [status(client, APP) for _ in range(3)] == [404, 404, 404]
    response = client.get("/v1/customers/status", params={"email": "x@example.com"}, headers=APP)
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    assert response.headers["Retry-After"] == "20"  # one request's worth of refill: 60 s / 3
    clock.now += 20
    assert status(client, APP) == 404


def test_the_address_limit_applies_before_the_token_is_checked() -> None:
    clock = FakeClock()
    client = TestClient(app(clock, status_rate_limit_per_ip=2))
    assert status(client, {"Authorization": "Bearer guess-1"}) == 401
    assert status(client, {"Authorization": "Bearer guess-2"}) == 401
    assert status(client, {"Authorization": "Bearer guess-3"}) == 429  # guessing stops here
    assert status(client) == 429


def test_a_token_over_its_limit_gets_429_whatever_the_address() -> None:
    clock = FakeClock()
    client = TestClient(
        app(clock, status_rate_limit_per_ip=0, status_rate_limit_per_token=2)  # IP: off
    )
    assert [status(client, APP) for _ in range(2)] == [404, 404]
    assert status(client, APP) == 429
    assert status(client, {"Authorization": "Bearer another"}) == 401  # its own bucket


def test_the_token_key_is_a_hash_never_the_token() -> None:
    key = token_key("Bearer local-app-token")
    assert key is not None
    assert "local-app-token" not in key
    assert len(key) == 32
    assert token_key("Bearer local-app-token") == key
    assert token_key("Basic abc") is None
    assert token_key(None) is None


def test_401s_are_counted_by_surface() -> None:
    registry = CollectorRegistry()
    client = TestClient(app(FakeClock(), registry))
    labels = {"surface": "status_api"}
    assert registry.get_sample_value("switchboard_http_unauthorized_total", labels) == 0
    status(client, {"Authorization": "Bearer wrong"})
    status(client)
    status(client, APP)
    assert registry.get_sample_value("switchboard_http_unauthorized_total", labels) == 2


def test_without_a_registry_given_401s_go_to_the_apps_registry() -> None:
    """ingest's bootstrap hands no registry; the app factory keeps it in `app.state`."""
    registry = CollectorRegistry()
    settings = IngestSettings.load(env="local")
    http = make_http_app(title="test", registry=registry, readiness={})
    http.state.registry = registry
    http.include_router(status_router(settings, InMemoryCustomers()))
    status(TestClient(http), {"Authorization": "Bearer wrong"})
    labels = {"surface": "status_api"}
    assert registry.get_sample_value("switchboard_http_unauthorized_total", labels) == 1
