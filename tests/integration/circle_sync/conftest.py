"""The Circle worker's integration, its client talking to the sandbox's Circle in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sandbox.app import create_app
from sandbox.settings import SandboxSettings
from services.circle_sync.integration import CircleIntegration
from services.circle_sync.settings import CircleSettings

CIRCLE_TOKEN = "test-circle-token"


@pytest.fixture
def sandbox() -> FastAPI:
    return create_app(SandboxSettings(circle_token=CIRCLE_TOKEN, sandbox_circle_rate_limit=0))


@pytest.fixture
async def make_circle(sandbox: FastAPI) -> AsyncIterator[Callable[..., CircleIntegration]]:
    made: list[CircleIntegration] = []

    def make(**overrides: Any) -> CircleIntegration:
        values = {
            "env": "local",
            "circle_base_url": "http://sandbox/circle",
            "circle_token": CIRCLE_TOKEN,
        }
        settings = CircleSettings(**{**values, **overrides})
        integration = CircleIntegration(settings, transport=httpx.ASGITransport(app=sandbox))
        made.append(integration)
        return integration

    yield make
    for integration in made:
        await integration.aclose()


@pytest.fixture
def circle(make_circle: Callable[..., CircleIntegration]) -> CircleIntegration:
    return make_circle()


async def circle_state(sandbox: FastAPI) -> dict[str, Any]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox"
    ) as client:
        response = await client.get("/_sandbox/state")
        response.raise_for_status()
        circle: dict[str, Any] = response.json()["circle"]
        return circle


async def add_fault(sandbox: FastAPI, **fault: Any) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox"
    ) as client:
        response = await client.post("/_sandbox/faults", json={"provider": "circle", **fault})
        response.raise_for_status()
