"""A reconcile sweep in-process: each integration's client against the sandbox app, the worker's
records, the sweeps store and the canonical state as fakes, and an outlet that keeps what the
sweep sent (repairs, tickets, "drift gone")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from libs.contracts import CustomerEvent, Lifecycle
from libs.reconcile.fakes import RecordingOutlet
from libs.reconcile.ports import KnownCustomer
from libs.reconcile.records import SweepRecord
from libs.reconcile.store import InMemorySweepStore
from libs.reconcile.sweep import SweepContext, run_sweep
from libs.runtime.dedupe import InMemoryDedupe, lookup, record
from libs.runtime.integration import WorkerSettings
from libs.runtime.provider_integration import ProviderIntegration
from libs.runtime.step_record import ledger_for
from sandbox.app import create_app
from sandbox.settings import SandboxSettings
from services.circle_sync.integration import CircleIntegration
from services.circle_sync.settings import CircleSettings
from services.convertkit_sync.integration import ConvertkitIntegration
from services.convertkit_sync.settings import ConvertkitSettings
from services.crm_sync.integration import CrmIntegration
from services.crm_sync.settings import CrmSettings
from services.ingest.canonical import CanonicalCustomer
from services.ingest.canonical_states import InMemoryCanonicalStates, known_customer
from tests.integration.in_process import NO_LAG, provider_state

TOKENS: dict[str, Any] = {
    "circle_token": "test-circle-token",
    "kit_api_key": "test-kit-key",
    "hubspot_token": "test-hubspot-token",
}


@dataclass
class World:
    sandbox: FastAPI
    integration: Any
    settings: WorkerSettings
    dedupe: InMemoryDedupe = field(default_factory=InMemoryDedupe)
    store: InMemorySweepStore = field(default_factory=InMemorySweepStore)
    canonical: InMemoryCanonicalStates = field(default_factory=InMemoryCanonicalStates)
    outlet: RecordingOutlet = field(default_factory=RecordingOutlet)

    @property
    def name(self) -> str:
        return str(self.integration.name)

    async def customer(
        self, customer_id: str, email: str, lifecycle: Lifecycle, *, version: int = 1
    ) -> KnownCustomer:
        """A canonical customer, synced by the worker (its record and ledger written)."""
        customer = CanonicalCustomer(
            _id=customer_id, email=email, lifecycle=lifecycle, version=version
        )
        self.canonical.put(customer)
        known = known_customer(customer)
        assert known.event is not None
        await self.run_step(known.event)
        return known

    async def run_step(self, event: CustomerEvent) -> list[str]:
        """What the worker's step does, without Kafka: sync against the record's ledger (a
        repair trusts it) and write the record."""
        seen = await lookup(self.dedupe, event.customer_id)
        ledger = ledger_for(seen, replay=False, repair=event.repair)
        actions = await self.integration.sync(event, dry_run=False, ledger=ledger)
        change = record(event.event_id, "synced", version=event.version, ledger=ledger.state)
        await self.dedupe.update(event.customer_id, change)
        return list(actions)

    async def sweep(self, *, dry_run: bool = False) -> SweepRecord:
        requested = await self.store.request(self.name, dry_run=dry_run, by="cli")
        started = await self.store.start(requested.sweep_id, "test")
        assert started is not None
        ctx = SweepContext(
            auditor=self.integration,
            settings=self.settings,
            dedupe=self.dedupe,
            canonical=self.canonical,
            store=self.store,
            outlet=self.outlet,
        )
        return await run_sweep(ctx, started)

    async def state(self) -> dict[str, Any]:
        provider = {"circle": "circle", "convertkit": "kit", "crm": "hubspot"}[self.name]
        return await provider_state(self.sandbox, provider)

    async def calls(self) -> int:
        return int((await self.state())["calls"])


@pytest.fixture
def sandbox() -> FastAPI:
    return create_app(
        SandboxSettings(
            **TOKENS,
            sandbox_circle_rate_limit=0,
            sandbox_kit_rate_limit=0,
            sandbox_hubspot_rate_limit=0,
            **NO_LAG,
        )
    )


INTEGRATIONS: dict[
    str, tuple[type[ProviderIntegration[Any, Any]], type[WorkerSettings], dict[str, str]]
] = {
    "circle": (CircleIntegration, CircleSettings, {"circle_base_url": "http://sandbox/circle"}),
    "convertkit": (
        ConvertkitIntegration,
        ConvertkitSettings,
        {"kit_base_url": "http://sandbox/kit"},
    ),
    "crm": (CrmIntegration, CrmSettings, {"hubspot_base_url": "http://sandbox/hubspot"}),
}


async def make_world(sandbox: FastAPI, name: str, **overrides: Any) -> World:
    integration_type, settings_type, urls = INTEGRATIONS[name]
    values = {"reconcile_settle_seconds": 0, "rate_limit": 0, **overrides}
    settings = settings_type(env="local", **TOKENS, **urls, **values)
    transport = httpx.ASGITransport(app=sandbox)
    return World(sandbox, integration_type(settings, transport=transport), settings)


@pytest.fixture
async def circle_world(sandbox: FastAPI) -> AsyncIterator[World]:
    world = await make_world(sandbox, "circle")
    yield world
    await world.integration.aclose()


@pytest.fixture
async def kit_world(sandbox: FastAPI) -> AsyncIterator[World]:
    world = await make_world(sandbox, "convertkit")
    yield world
    await world.integration.aclose()


@pytest.fixture
async def crm_world(sandbox: FastAPI) -> AsyncIterator[World]:
    world = await make_world(sandbox, "crm")
    yield world
    await world.integration.aclose()
