"""The benchmark's in-process world: the sandbox app at the providers' published limits, and
each integration's client talking to it over `httpx.ASGITransport` (as the in-process reconcile
tests wire it), with the workers' default pacing and a settle window of 0."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import httpx
from fastapi import FastAPI

from sandbox.app import create_app
from sandbox.settings import SandboxSettings
from sandbox.state import Sandbox
from services.circle_sync.integration import CircleIntegration
from services.circle_sync.settings import CircleSettings
from services.convertkit_sync.integration import ConvertkitIntegration
from services.convertkit_sync.settings import ConvertkitSettings
from services.crm_sync.integration import CrmIntegration
from services.crm_sync.settings import CrmSettings

TOKENS: Final[dict[str, Any]] = {
    "circle_token": "bench-circle-token",
    "kit_api_key": "bench-kit-key",
    "hubspot_token": "bench-hubspot-token",
}
#: integration -> the sandbox provider it talks to
PROVIDER: Final = {"circle": "circle", "convertkit": "kit", "crm": "hubspot"}
_KINDS: Final[dict[str, tuple[Any, Any, dict[str, str]]]] = {
    "circle": (CircleIntegration, CircleSettings, {"circle_base_url": "http://sandbox/circle"}),
    "convertkit": (
        ConvertkitIntegration,
        ConvertkitSettings,
        {"kit_base_url": "http://sandbox/kit"},
    ),
    "crm": (CrmIntegration, CrmSettings, {"hubspot_base_url": "http://sandbox/hubspot"}),
}


@dataclass
class World:
    app: FastAPI
    integrations: dict[str, Any]

    @property
    def sandbox(self) -> Sandbox:
        found: Sandbox = self.app.state.sandbox
        return found

    def client(self) -> httpx.AsyncClient:
        """A client of the in-process sandbox (a person's drift, the control API)."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://sandbox", timeout=60
        )

    async def aclose(self) -> None:
        for integration in self.integrations.values():
            await integration.aclose()


def build() -> World:
    # the sandbox's rate limits are its defaults: the providers' published ones
    # ... but no list or search lag: the bench makes drift by hand and sweeps at once
    app = create_app(
        SandboxSettings(**TOKENS, sandbox_kit_list_lag_s=0, sandbox_hubspot_search_lag_s=0)
    )
    transport = httpx.ASGITransport(app=app)
    integrations = {}
    for name, (kind, settings_type, urls) in _KINDS.items():
        # the worker's defaults (rate_limit, reconcile_budget_share 0.2) but no settle window
        settings = settings_type(env="local", **TOKENS, **urls, reconcile_settle_seconds=0)
        integrations[name] = kind(settings, transport=transport)
    return World(app, integrations)


def pacing(world: World) -> dict[str, dict[str, float]]:
    """What each side allows: the sandbox's limit, the worker's, and the sweep's share."""
    limits = world.sandbox.settings
    out = {}
    for name, integration in world.integrations.items():
        s = integration.settings
        limit = limits.rate_limit(PROVIDER[name])
        out[name] = {
            "sandbox_limit": limit.limit,
            "sandbox_window_s": limit.window_s,
            "worker_limit": s.rate_limit,
            "window_s": s.rate_window_seconds,
            "share": s.reconcile_budget_share,
            "sweep_limit": max(1, int(s.rate_limit * s.reconcile_budget_share)),
        }
    return out
