"""Drives a worker's own app (its `main.create_app`, as production builds it) on FastStream's
in-memory broker, with the in-memory dedupe fake and a fake provider (`httpx.MockTransport`
answering from a script): the handler tier, in `make unit`, no servers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from faststream.kafka import TestKafkaBroker

from libs.contracts import CUSTOMER_EVENTS, SYNC_RESULTS, CustomerEvent, Lifecycle, Source
from libs.runtime.dedupe import InMemoryDedupe, lookup
from libs.runtime.worker_app import WorkerAdapters

#: a provider that fails answers at once: a script's mistake fails the test, not after a minute
FAST_RETRIES: dict[str, Any] = {
    "retries": 3,
    "backoff_base_seconds": 0.001,
    "backoff_max_seconds": 0.002,
}

#: (method, path) -> (status, JSON body): how the fake provider answers
Script = dict[tuple[str, str], tuple[int, Any]]


@dataclass
class FakeProvider:
    script: Script
    calls: list[tuple[str, str]] = field(default_factory=list)

    def answer(self, request: httpx.Request) -> httpx.Response:
        call = (request.method, request.url.path)
        self.calls.append(call)
        status, body = self.script.get(call, (500, {"message": f"unscripted {call}"}))
        return httpx.Response(status, json=body)


@dataclass
class Run:
    results: list[dict[str, Any]]
    provider: FakeProvider
    dedupe: InMemoryDedupe


def paid(customer: str = "cust_1", version: int = 1, event_id: str = "evt_1") -> CustomerEvent:
    return CustomerEvent(
        event_id=event_id,
        customer_id=customer,
        version=version,
        email="jane@example.com",
        name="Jane Doe",
        lifecycle=Lifecycle.PAID,
        products=("prod_basic",),
        source=Source(
            event_id=event_id,
            event_type="checkout.session.completed",
            occurred_at=datetime.now(UTC),
        ),
    )


async def drive(
    create_app: Callable[[WorkerAdapters], FastAPI], script: Script, *events: CustomerEvent
) -> Run:
    """Publish `events` to `customer.events.v1` through the worker's app; what it published to
    `sync.results.v1`, the provider calls it made and its dedupe records."""
    provider = FakeProvider(script)
    dedupe = InMemoryDedupe()
    app = create_app(WorkerAdapters(dedupe=dedupe, transport=httpx.MockTransport(provider.answer)))
    broker = app.state.broker
    results: list[dict[str, Any]] = []

    @broker.subscriber(SYNC_RESULTS, group_id="test-results")
    async def on_result(body: dict[str, Any]) -> None:
        results.append(body)

    async with TestKafkaBroker(broker) as kafka:
        for event in events:
            await kafka.publish(event.to_bytes(), CUSTOMER_EVENTS, key=event.customer_id.encode())
        await app.state.held.queue.idle()  # the events are held; wait until their steps ran
    await app.state.loop.integration.aclose()
    return Run(results, provider, dedupe)


async def applied_version(run: Run, customer_id: str = "cust_1") -> int:
    return (await lookup(run.dedupe, customer_id)).version
