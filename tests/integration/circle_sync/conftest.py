"""The Circle worker's integration, its client talking to the sandbox's Circle in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi import FastAPI

from sandbox.app import create_app
from sandbox.settings import SandboxSettings
from services.circle_sync.integration import CircleIntegration
from services.circle_sync.settings import CircleSettings
from tests.integration.in_process import (
    NO_LAG,
    add_provider_fault,
    integration_factory,
    provider_state,
)

CIRCLE_TOKEN = "test-circle-token"


@pytest.fixture
def sandbox() -> FastAPI:
    return create_app(
        SandboxSettings(circle_token=CIRCLE_TOKEN, sandbox_circle_rate_limit=0, **NO_LAG)
    )


@pytest.fixture
async def make_circle(sandbox: FastAPI) -> AsyncIterator[Callable[..., CircleIntegration]]:
    async with integration_factory(
        sandbox,
        CircleIntegration,
        CircleSettings,
        circle_base_url="http://sandbox/circle",
        circle_token=CIRCLE_TOKEN,
    ) as make:
        yield make


@pytest.fixture
def circle(make_circle: Callable[..., CircleIntegration]) -> CircleIntegration:
    return make_circle()


async def circle_state(sandbox: FastAPI) -> dict[str, Any]:
    return await provider_state(sandbox, "circle")


async def add_fault(sandbox: FastAPI, **fault: Any) -> None:
    await add_provider_fault(sandbox, "circle", **fault)
