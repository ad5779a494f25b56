"""Support built on fakes, no servers: the in-memory records, ingest's read model fake, the real
`ZendeskClient` on an `httpx.MockTransport` playing Zendesk, and the production routers on
FastStream's in-memory broker (`TestKafkaBroker`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry

from libs.contracts import (
    CustomerEvent,
    ErrorInfo,
    Lifecycle,
    ProviderIds,
    Source,
    SyncFailure,
    SyncOutcome,
    SyncResult,
)
from libs.runtime.provider_http import ProviderHttp
from services.ingest.read_model import InMemoryCustomerReadModel
from services.support.consumers import support_routers
from services.support.fakes import (
    InMemoryFailedSteps,
    InMemoryIncidentRecords,
    InMemorySweepStore,
    InMemoryTimelines,
)
from services.support.metrics import SupportMetrics
from services.support.ports import Records
from services.support.service import build_support
from services.support.settings import SupportSettings
from services.support.zendesk import ZendeskClient

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
CUSTOMER = "cust_42"


class FakeZendesk:
    """Zendesk's ticket API as support uses it: find by external id, create, comment, solve."""

    def __init__(self) -> None:
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[str]] = {}
        #: answer every call 503 (an outage)
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return httpx.Response(503, json={"error": "unavailable"})
        path = request.url.path
        if request.method == "GET" and path == "/api/v2/tickets":
            wanted = request.url.params.get("external_id")
            found = [t for t in self.tickets.values() if t["external_id"] == wanted]
            return httpx.Response(200, json={"tickets": found})
        if request.method == "POST" and path == "/api/v2/tickets":
            ticket = json.loads(request.content)["ticket"]
            ticket_id = len(self.tickets) + 1
            self.tickets[ticket_id] = {**ticket, "id": ticket_id, "status": "open"}
            self.comments[ticket_id] = [ticket["comment"]["body"]]
            return httpx.Response(201, json={"ticket": self.tickets[ticket_id]})
        if request.method == "PUT" and path.startswith("/api/v2/tickets/"):
            ticket_id = int(path.rsplit("/", 1)[1])
            change = json.loads(request.content)["ticket"]
            self.comments[ticket_id].append(change["comment"]["body"])
            if "status" in change:
                self.tickets[ticket_id]["status"] = change["status"]
            return httpx.Response(200, json={"ticket": self.tickets[ticket_id]})
        return httpx.Response(404, json={"error": "not found"})


class World:
    def __init__(self) -> None:
        self.settings = SupportSettings.load(env="local")
        self.zendesk = FakeZendesk()
        client = httpx.AsyncClient(
            base_url="https://zendesk.test", transport=httpx.MockTransport(self.zendesk)
        )
        self.registry = CollectorRegistry()
        self.metrics = SupportMetrics(self.registry)
        self.incidents = InMemoryIncidentRecords()
        self.records = Records(self.incidents, InMemoryFailedSteps(), InMemoryTimelines())
        self.customers = InMemoryCustomerReadModel()
        self.broker = KafkaBroker("localhost:9092")
        self.sweeps = InMemorySweepStore()
        self.support = build_support(
            self.records,
            ZendeskClient(ProviderHttp("zendesk", client, None)),
            self.broker,
            self.metrics,
            console_url="https://ops.example.com",
            integrations=["circle", "convertkit", "crm"],
            sweeps=self.sweeps,
        )
        for router in support_routers(self.support, self.settings):
            self.broker.include_router(router)

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


def event(version: int = 3, event_id: str = "evt_3") -> CustomerEvent:
    return CustomerEvent(
        event_id=event_id,
        customer_id=CUSTOMER,
        version=version,
        email="jane@example.com",
        lifecycle=Lifecycle.PAID,
        provider_ids=ProviderIds(stripe_customer_id="cus_J1"),
        source=Source(event_id=event_id, event_type="invoice.paid", occurred_at=T0),
    )


def failure(version: int = 3, event_id: str = "evt_3", integration: str = "circle") -> SyncFailure:
    return SyncFailure(
        event_id=event_id,
        customer_id=CUSTOMER,
        integration=integration,
        action="add_access_group:Members",
        attempts=4,
        error=ErrorInfo(status=503, code="http_503", message="Service Unavailable", retryable=True),
        first_attempt_at=T0,
        failed_at=T0 + timedelta(seconds=version),
        event=event(version, event_id),
    )


def result(
    version: int = 3,
    event_id: str = "evt_3",
    outcome: SyncOutcome = SyncOutcome.SYNCED,
    integration: str = "circle",
) -> SyncResult:
    return SyncResult(
        event_id=event_id,
        customer_id=CUSTOMER,
        version=version,
        integration=integration,
        outcome=outcome,
        actions=("add_access_group:Members",),
        at=T0 + timedelta(minutes=version),
    )
