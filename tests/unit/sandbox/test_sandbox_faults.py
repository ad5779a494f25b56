from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.unit.sandbox.conftest import CIRCLE, HUBSPOT, KIT, ZENDESK, state

CIRCLE_SEARCH = "/circle/api/admin/v2/community_members/search"


async def add_fault(client: httpx.AsyncClient, **fault: Any) -> dict[str, Any]:
    response = await client.post("/_sandbox/faults", json=fault)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()["fault"]
    return body


async def test_status_fault_answers_the_next_n_requests(client: httpx.AsyncClient) -> None:
    await add_fault(client, provider="circle", status=503, count=2)
    statuses = [
        (await client.post("/circle/api/admin/v2/community_members", json={"email": "a@b.co"},
                           headers=CIRCLE)).status_code
        for _ in range(3)
    ]  # fmt: skip
    assert statuses == [503, 503, 201]
    circle = (await state(client))["circle"]
    assert circle["faulted"] == {"POST /api/admin/v2/community_members": 2}
    assert circle["requests"] == {"POST /api/admin/v2/community_members": 1}
    assert (await state(client))["faults"] == []


async def test_faults_come_before_auth(client: httpx.AsyncClient) -> None:
    await add_fault(client, provider="kit", status=500, count=1)
    response = await client.get("/kit/v4/tags", headers={"X-Kit-Api-Key": "wrong"})
    assert response.status_code == 500
    assert response.json()["errors"]


async def test_kit_429_fault_is_plain_text_without_retry_after(client: httpx.AsyncClient) -> None:
    await add_fault(client, provider="kit", status=429, count=3)
    for _ in range(3):
        response = await client.get("/kit/v4/tags", headers=KIT)
        assert response.status_code == 429
        assert response.text.strip() == "Retry later"
        assert "retry-after" not in response.headers
    assert (await client.get("/kit/v4/tags", headers=KIT)).status_code == 200


async def test_retry_after_adds_the_header(client: httpx.AsyncClient) -> None:
    await add_fault(client, provider="hubspot", status=429, count=1, retry_after=2)
    response = await client.get("/hubspot/crm/v3/objects/contacts/1", headers=HUBSPOT)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.json()["category"] == "RATE_LIMITS"


async def test_zendesk_429_always_carries_retry_after(client: httpx.AsyncClient) -> None:
    await add_fault(client, provider="zendesk", status=429, count=1)
    response = await client.get("/zendesk/api/v2/tickets", headers=ZENDESK)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"


async def test_latency_fault_delays_then_answers(client: httpx.AsyncClient) -> None:
    await add_fault(client, provider="hubspot", latency_ms=200, count=1)
    started = time.monotonic()
    response = await client.get("/hubspot/crm/v3/objects/contacts/1", headers=HUBSPOT)
    assert time.monotonic() - started >= 0.2
    assert response.status_code == 404  # answered normally after the delay
    hubspot = (await state(client))["hubspot"]
    assert hubspot["delayed"] == {"GET /crm/v3/objects/contacts/{id}": 1}
    assert hubspot["reads"] == {"GET /crm/v3/objects/contacts/{id}": 1}


async def test_drop_fault_gives_the_client_a_protocol_error(client: httpx.AsyncClient) -> None:
    await add_fault(client, provider="zendesk", drop=True, count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get("/zendesk/api/v2/tickets", headers=ZENDESK)
    assert (await client.get("/zendesk/api/v2/tickets", headers=ZENDESK)).status_code == 200
    assert (await state(client))["zendesk"]["faulted"] == {"GET /api/v2/tickets": 1}


async def test_fault_without_count_stays_until_cleared(client: httpx.AsyncClient) -> None:
    await add_fault(client, provider="kit", status=503)
    await add_fault(client, provider="circle", status=503)
    for _ in range(5):
        assert (await client.get("/kit/v4/tags", headers=KIT)).status_code == 503
    cleared = await client.delete("/_sandbox/faults", params={"provider": "kit"})
    assert cleared.json() == {"cleared": 1}
    assert (await client.get("/kit/v4/tags", headers=KIT)).status_code == 200
    assert (await client.get(CIRCLE_SEARCH, headers=CIRCLE)).status_code == 503
    await client.delete("/_sandbox/faults")
    assert (await client.get(CIRCLE_SEARCH, headers=CIRCLE)).status_code == 404


async def test_path_and_method_filters(client: httpx.AsyncClient) -> None:
    await add_fault(
        client, provider="kit", status=503, method="POST", path="/v4/tags/*/subscribers"
    )
    assert (await client.get("/kit/v4/tags", headers=KIT)).status_code == 200
    await client.post("/kit/v4/subscribers", json={"email_address": "a@b.co"}, headers=KIT)
    tagged = await client.post(
        "/kit/v4/tags/1/subscribers", json={"email_address": "a@b.co"}, headers=KIT
    )
    assert tagged.status_code == 503


async def test_control_routes_are_never_faulted(client: httpx.AsyncClient) -> None:
    await add_fault(client, provider="circle", drop=True)
    assert (await client.get("/_sandbox/state")).status_code == 200


@pytest.mark.parametrize(
    ("fault", "fragment"),
    [
        ({"provider": "circle"}, "at least one of status, latency_ms or drop"),
        ({"provider": "circle", "status": 503, "drop": True}, "exclude each other"),
        ({"provider": "nowhere", "status": 503}, "provider"),
        ({"provider": "kit", "status": 200}, "status"),
        ({"provider": "kit", "status": 503, "count": 0}, "count"),
        ({"provider": "kit", "status": 503, "bogus": 1}, "bogus"),
    ],
)
async def test_invalid_faults_are_422_with_a_clear_message(
    client: httpx.AsyncClient, fault: dict[str, Any], fragment: str
) -> None:
    response = await client.post("/_sandbox/faults", json=fault)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_fault"
    assert fragment in body["message"]
