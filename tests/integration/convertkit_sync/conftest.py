"""The Kit worker's integration, its client talking to the sandbox app in-process (httpx over
ASGITransport): real paths, headers, bodies and status codes, no network and no Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sandbox.app import create_app
from sandbox.settings import SandboxSettings
from services.convertkit_sync.integration import KitIntegration
from services.convertkit_sync.settings import KitSettings

KIT_KEY = "test-kit-key"


@pytest.fixture
def sandbox() -> FastAPI:
    # No rate limit unless a test asks for one: faults drive the 429s here.
    return create_app(SandboxSettings(kit_api_key=KIT_KEY, sandbox_kit_rate_limit=0))


@pytest.fixture
async def make_kit(sandbox: FastAPI) -> AsyncIterator[Callable[..., KitIntegration]]:
    made: list[KitIntegration] = []

    def make(**overrides: Any) -> KitIntegration:
        values = {"env": "local", "kit_base_url": "http://sandbox/kit", "kit_api_key": KIT_KEY}
        settings = KitSettings(**{**values, **overrides})
        integration = KitIntegration(settings, transport=httpx.ASGITransport(app=sandbox))
        made.append(integration)
        return integration

    yield make
    for integration in made:
        await integration.aclose()


@pytest.fixture
def kit(make_kit: Callable[..., KitIntegration]) -> KitIntegration:
    return make_kit()


async def kit_state(sandbox: FastAPI) -> dict[str, Any]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox"
    ) as client:
        response = await client.get("/_sandbox/state")
        response.raise_for_status()
        kit: dict[str, Any] = response.json()["kit"]
        return kit


async def add_fault(sandbox: FastAPI, **fault: Any) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox"
    ) as client:
        (
            await client.post("/_sandbox/faults", json={"provider": "kit", **fault})
        ).raise_for_status()
