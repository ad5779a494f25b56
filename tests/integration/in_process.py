"""What the workers' integration tests share: each runs its worker's client against the sandbox
app in-process (httpx over ASGITransport), so real paths, headers, bodies and status codes, with
no network and no Kafka. Each folder's conftest names its provider, token and settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

import httpx
from fastapi import FastAPI

#: the sandbox settings that turn off Kit's list lag and HubSpot's search lag: the tests read
#: their own writes back through lists at once (the lag's own tests set it)
NO_LAG: dict[str, float] = {"sandbox_kit_list_lag_s": 0.0, "sandbox_hubspot_search_lag_s": 0.0}


class _Closable(Protocol):
    async def aclose(self) -> None: ...


IntegrationT = TypeVar("IntegrationT", bound=_Closable)


@asynccontextmanager
async def integration_factory(
    sandbox: FastAPI,
    integration: Callable[..., IntegrationT],
    settings: Callable[..., Any],
    **defaults: Any,
) -> AsyncIterator[Callable[..., IntegrationT]]:
    """A `make(**overrides)` that builds `integration` from `settings(env="local", **defaults,
    **overrides)`, its client talking to `sandbox`; every one made is closed on the way out."""
    made: list[IntegrationT] = []

    def make(**overrides: Any) -> IntegrationT:
        values = {"env": "local", **defaults, **overrides}
        built = integration(settings(**values), transport=httpx.ASGITransport(app=sandbox))
        made.append(built)
        return built

    yield make
    for built in made:
        await built.aclose()


async def control(sandbox: FastAPI, method: str, path: str, **kwargs: Any) -> Any:
    """Call the sandbox's test-control API (`/_sandbox/...`); the JSON answer."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox"
    ) as client:
        response = await client.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()


async def provider_state(sandbox: FastAPI, provider: str) -> dict[str, Any]:
    state: dict[str, Any] = (await control(sandbox, "GET", "/_sandbox/state"))[provider]
    return state


async def add_provider_fault(sandbox: FastAPI, provider: str, **fault: Any) -> None:
    await control(sandbox, "POST", "/_sandbox/faults", json={"provider": provider, **fault})
