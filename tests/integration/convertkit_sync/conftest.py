"""The Kit worker's integration, its client talking to the sandbox's Kit in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi import FastAPI

from sandbox.app import create_app
from sandbox.settings import SandboxSettings
from services.convertkit_sync.integration import ConvertkitIntegration
from services.convertkit_sync.settings import ConvertkitSettings
from tests.integration.in_process import (
    NO_LAG,
    add_provider_fault,
    integration_factory,
    provider_state,
)

KIT_KEY = "test-kit-key"


@pytest.fixture
def sandbox() -> FastAPI:
    # No rate limit unless a test asks for one: faults drive the 429s here.
    return create_app(SandboxSettings(kit_api_key=KIT_KEY, sandbox_kit_rate_limit=0, **NO_LAG))


@pytest.fixture
async def make_kit(sandbox: FastAPI) -> AsyncIterator[Callable[..., ConvertkitIntegration]]:
    async with integration_factory(
        sandbox,
        ConvertkitIntegration,
        ConvertkitSettings,
        kit_base_url="http://sandbox/kit",
        kit_api_key=KIT_KEY,
    ) as make:
        yield make


@pytest.fixture
def kit(make_kit: Callable[..., ConvertkitIntegration]) -> ConvertkitIntegration:
    return make_kit()


async def kit_state(sandbox: FastAPI) -> dict[str, Any]:
    return await provider_state(sandbox, "kit")


async def add_fault(sandbox: FastAPI, **fault: Any) -> None:
    await add_provider_fault(sandbox, "kit", **fault)
