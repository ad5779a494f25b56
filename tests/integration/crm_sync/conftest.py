"""The CRM worker's integration, its client talking to the sandbox's HubSpot in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi import FastAPI

from sandbox.app import create_app
from sandbox.settings import SandboxSettings
from services.crm_sync.integration import CrmIntegration
from services.crm_sync.settings import CrmSettings
from tests.integration.in_process import (
    NO_LAG,
    add_provider_fault,
    integration_factory,
    provider_state,
)

HUBSPOT_TOKEN = "test-hubspot-token"


@pytest.fixture
def sandbox() -> FastAPI:
    return create_app(
        SandboxSettings(hubspot_token=HUBSPOT_TOKEN, sandbox_hubspot_rate_limit=0, **NO_LAG)
    )


@pytest.fixture
async def make_crm(sandbox: FastAPI) -> AsyncIterator[Callable[..., CrmIntegration]]:
    async with integration_factory(
        sandbox,
        CrmIntegration,
        CrmSettings,
        hubspot_base_url="http://sandbox/hubspot",
        hubspot_token=HUBSPOT_TOKEN,
    ) as make:
        yield make


@pytest.fixture
def crm(make_crm: Callable[..., CrmIntegration]) -> CrmIntegration:
    return make_crm()


async def hubspot_state(sandbox: FastAPI) -> dict[str, Any]:
    return await provider_state(sandbox, "hubspot")


async def add_fault(sandbox: FastAPI, **fault: Any) -> None:
    await add_provider_fault(sandbox, "hubspot", **fault)
