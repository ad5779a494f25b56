"""The sandbox app in-process (httpx over ASGITransport), with explicit credentials so the
environment cannot change what the tests expect."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sandbox.app import create_app
from sandbox.settings import SandboxSettings

CIRCLE_TOKEN = "test-circle-token"
KIT_KEY = "test-kit-key"
HUBSPOT_TOKEN = "test-hubspot-token"
ZENDESK_EMAIL = "bot@example.test"
ZENDESK_TOKEN = "test-zendesk-token"
STRIPE_KEY = "sk_test_sandbox_unit_key"
WEBHOOK_SECRETS = "whsec_first_secret,whsec_second_secret"

CIRCLE = {"Authorization": f"Bearer {CIRCLE_TOKEN}"}
KIT = {"X-Kit-Api-Key": KIT_KEY}
HUBSPOT = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
ZENDESK = {
    "Authorization": "Basic "
    + base64.b64encode(f"{ZENDESK_EMAIL}/token:{ZENDESK_TOKEN}".encode()).decode()
}
STRIPE = {"Authorization": f"Bearer {STRIPE_KEY}"}


def make_settings(**overrides: Any) -> SandboxSettings:
    values: dict[str, Any] = {
        "circle_token": CIRCLE_TOKEN,
        "kit_api_key": KIT_KEY,
        "hubspot_token": HUBSPOT_TOKEN,
        "zendesk_email": ZENDESK_EMAIL,
        "zendesk_token": ZENDESK_TOKEN,
        "stripe_api_key": STRIPE_KEY,
        "stripe_webhook_secrets": WEBHOOK_SECRETS,
        "sandbox_ingest_url": "http://ingest.test/webhooks/stripe",
        "sandbox_circle_access_groups": "Members,Alumni",
        "sandbox_hubspot_custom_properties": "switchboard_lifecycle",
        # Lists and search read at once; the lag's own tests set it (test_sandbox_consistency).
        "sandbox_kit_list_lag_s": 0,
        "sandbox_hubspot_search_lag_s": 0,
        **overrides,
    }
    return SandboxSettings(**values)


class FakeIngest:
    """Stands in for ingest: records what the sandbox posts and answers 200."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json={"received": True})


@pytest.fixture
def ingest() -> FakeIngest:
    return FakeIngest()


@pytest.fixture
def app_factory(ingest: FakeIngest) -> Callable[..., FastAPI]:
    def build(**overrides: Any) -> FastAPI:
        clock = overrides.pop("clock", None)
        extra = {"clock": clock} if clock is not None else {}
        return create_app(
            make_settings(**overrides), ingest_transport=httpx.MockTransport(ingest), **extra
        )

    return build


@pytest.fixture
def app(app_factory: Callable[..., FastAPI]) -> FastAPI:
    return app_factory()


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


async def state(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/_sandbox/state")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body
