"""The CRM worker's integration, its client talking to the sandbox's HubSpot in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sandbox.app import create_app
from sandbox.settings import SandboxSettings
from services.crm_sync.integration import CrmIntegration
from services.crm_sync.settings import CrmSettings

HUBSPOT_TOKEN = "test-hubspot-token"


@pytest.fixture
def sandbox() -> FastAPI:
    return create_app(SandboxSettings(hubspot_token=HUBSPOT_TOKEN, sandbox_hubspot_rate_limit=0))


@pytest.fixture
async def make_crm(sandbox: FastAPI) -> AsyncIterator[Callable[..., CrmIntegration]]:
    made: list[CrmIntegration] = []

    def make(**overrides: Any) -> CrmIntegration:
        values = {
            "env": "local",
            "hubspot_base_url": "http://sandbox/hubspot",
            "hubspot_token": HUBSPOT_TOKEN,
        }
        settings = CrmSettings(**{**values, **overrides})
        integration = CrmIntegration(settings, transport=httpx.ASGITransport(app=sandbox))
        made.append(integration)
        return integration

    yield make
    for integration in made:
        await integration.aclose()


@pytest.fixture
def crm(make_crm: Callable[..., CrmIntegration]) -> CrmIntegration:
    return make_crm()


async def control(sandbox: FastAPI, method: str, path: str, **kwargs: Any) -> Any:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox"
    ) as client:
        response = await client.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()


async def hubspot_state(sandbox: FastAPI) -> dict[str, Any]:
    state: dict[str, Any] = (await control(sandbox, "GET", "/_sandbox/state"))["hubspot"]
    return state


async def add_fault(sandbox: FastAPI, **fault: Any) -> None:
    await control(sandbox, "POST", "/_sandbox/faults", json={"provider": "hubspot", **fault})
