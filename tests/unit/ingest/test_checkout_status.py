"""`GET /v1/checkout-sessions/{id}/status` on ingest's fakes: the session id recorded when a
checkout is applied finds its buyer with no token, for a while only; malformed ids are refused,
unknown and expired ones answer the same 404, and every request is throttled per client IP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from libs.contracts.identity import checkout_key, is_checkout_session_id
from libs.runtime.clock import now
from libs.runtime.http import make_http_app
from services.ingest.checkout_status import checkout_status_router
from services.ingest.customers import InMemoryCustomers
from services.ingest.normalize import normalize
from services.ingest.settings import IngestSettings
from services.ingest.status import status_router

from .world import World, checkout, refund, running

TTL = 3600
TOKEN = {"Authorization": "Bearer local-app-token"}


class Clock:
    def __init__(self) -> None:
        self.at: datetime | None = None  # None: the real time

    def __call__(self) -> datetime:
        return self.at or now()


@asynccontextmanager
async def client(
    world: World, clock: Callable[[], datetime], **settings: Any
) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """Clients of ingest's two status routes over the world's customers; each client can come
    from an address of its own."""
    config = IngestSettings.load(env="local", checkout_status_ttl_seconds=TTL, **settings)
    app = make_http_app(title="ingest", registry=CollectorRegistry(), readiness={})
    app.include_router(status_router(config, world.customers, clock))
    app.include_router(checkout_status_router(config, world.customers, clock))
    opened: list[httpx.AsyncClient] = []

    def from_ip(ip: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        opened.append(httpx.AsyncClient(transport=transport, base_url="http://ingest"))
        return opened[-1]

    try:
        yield from_ip
    finally:
        for each in opened:
            await each.aclose()


def session_of(event: dict[str, Any]) -> str:
    return str(event["data"]["object"]["id"])


def url(session: str) -> str:
    return f"/v1/checkout-sessions/{quote(session, safe='')}/status"


def new_email() -> str:
    return f"buyer.{uuid.uuid4().hex[:8]}@example.com"


def test_the_checkout_session_id_is_read_from_checkout_events_only() -> None:
    event = checkout(new_email(), "cus_n1")
    assert normalize(event).checkout_session_id == session_of(event)
    assert normalize(refund("cus_n1", created=1_700_000_000)).checkout_session_id is None


@pytest.mark.parametrize(
    "session",
    ["cs_test_a1B2c3", "cs_live_" + "x" * 200, "cs_" + "a" * 255, "cs_1"],
)
def test_a_stripe_like_session_id_is_well_formed(session: str) -> None:
    assert is_checkout_session_id(session)


async def test_the_buyer_s_session_answers_the_email_status_s_body_with_no_token() -> None:
    async with running() as (world, _), client(world, Clock()) as open_client:
        email, event = new_email(), checkout(new_email(), "cus_c1")
        event["data"]["object"]["customer_details"]["email"] = email
        await world.accept(event)
        http = open_client()
        answer = await http.get(url(session_of(event)))
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        body = answer.json()
        assert body["lifecycle"] == "paid"
        assert set(body["integrations"]) == {"circle", "convertkit", "crm"}
        assert body["next_step"].startswith("Payment received")
        by_email = await http.get("/v1/customers/status", params={"email": email}, headers=TOKEN)
        assert by_email.json() == body
        # the email lookup still wants its token; the session route ignores one
        assert (await http.get("/v1/customers/status", params={"email": email})).status_code == 401
        assert (await http.get(url(session_of(event)), headers=TOKEN)).json() == body


async def test_each_buyer_s_session_finds_that_buyer_only() -> None:
    async with running() as (world, _), client(world, Clock()) as open_client:
        first, second = checkout(new_email(), "cus_c2"), checkout(new_email(), "cus_c3")
        await world.accept(first, second)
        later = refund("cus_c3", created=int(now().timestamp()) + 5)
        await world.accept(later)
        http = open_client()
        assert (await http.get(url(session_of(first)))).json()["lifecycle"] == "paid"
        assert (await http.get(url(session_of(second)))).json()["lifecycle"] == "canceled"


async def test_an_answer_expires_and_then_looks_like_an_unknown_session() -> None:
    clock = Clock()
    async with running() as (world, _), client(world, clock) as open_client:
        event = checkout(new_email(), "cus_c4")
        await world.accept(event)
        recorded = await world.customers.recorded(checkout_key(session_of(event)))
        assert recorded is not None
        http = open_client()
        clock.at = recorded.at + timedelta(seconds=TTL - 1)
        assert (await http.get(url(session_of(event)))).status_code == 200
        clock.at = recorded.at + timedelta(seconds=TTL)
        expired = await http.get(url(session_of(event)))
        unknown = await http.get(url("cs_test_" + uuid.uuid4().hex))
        assert expired.status_code == unknown.status_code == 404
        assert expired.json() == unknown.json()
        assert expired.json()["error"] == "not_found"
        assert expired.headers["cache-control"] == "no-store"
        # a redelivery does not renew it: the key keeps the time it was first recorded
        await world.accept(event)
        assert (await http.get(url(session_of(event)))).status_code == 404


@pytest.mark.parametrize(
    "session",
    ["cs_", "cus_123", "cs_abc-def", "cs_" + "a" * 256, "CS_abc", "cs_é", "cs_a b", "1"],
)
async def test_a_malformed_session_id_is_refused_with_its_own_code(session: str) -> None:
    async with running() as (world, _), client(world, Clock()) as open_client:
        answer = await open_client().get(url(session))
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == "invalid_checkout_session_id"


async def test_every_request_is_throttled_per_client_ip() -> None:
    async with running() as (world, _), client(world, Clock(), checkout_status_rate_limit=3) as c:
        one, other = c("203.0.113.7"), c("198.51.100.9")
        answers = [
            await one.get(url("cs_test_unknown1")),
            await one.get(url("not-a-session")),  # malformed ones count too
            await one.get(url("cs_test_unknown2")),
        ]
        assert [a.status_code for a in answers] == [404, 422, 404]
        throttled = await one.get(url("cs_test_unknown3"))
        assert throttled.status_code == 429
        assert throttled.json()["error"] == "rate_limited"
        assert int(throttled.headers["retry-after"]) >= 1
        # another address has a budget of its own
        assert (await other.get(url("cs_test_unknown3"))).status_code == 404


def test_the_route_documents_its_answers_and_the_id_s_shape() -> None:
    app = FastAPI()
    config = IngestSettings.load(env="local")
    app.include_router(checkout_status_router(config, InMemoryCustomers()))
    operation = app.openapi()["paths"]["/v1/checkout-sessions/{checkout_session_id}/status"]
    assert {"200", "404", "422", "429"} <= set(operation["get"]["responses"])
    assert "security" not in operation["get"]
    (parameter,) = operation["get"]["parameters"]
    assert parameter["schema"]["pattern"] == "^cs_[A-Za-z0-9_]{1,255}$"
