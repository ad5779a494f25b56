"""`reads` and `calls` in `GET /_sandbox/state`: every read a provider answers is counted under
its path template, whatever the answer (a quota counts 4xx and 429 too), and `calls` totals every
answered call, reads and writes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.unit.sandbox.conftest import (
    CIRCLE,
    HUBSPOT,
    KIT,
    STRIPE,
    ZENDESK,
    client_for,
    state,
)

V2 = "/circle/api/admin/v2"
PROVIDERS = ("circle", "kit", "hubspot", "zendesk", "stripe")


@pytest.mark.parametrize(
    ("provider", "path", "headers", "key"),
    [
        (
            "circle",
            f"{V2}/community_members/search?email=a@b.co",
            CIRCLE,
            "GET /api/admin/v2/community_members/search",
        ),
        (
            "circle",
            f"{V2}/community_members/42/access_groups",
            CIRCLE,
            "GET /api/admin/v2/community_members/{id}/access_groups",
        ),
        ("kit", "/kit/v4/subscribers/7/tags", KIT, "GET /v4/subscribers/{subscriber_id}/tags"),
        ("kit", "/kit/v4/subscribers?email_address=a@b.co", KIT, "GET /v4/subscribers"),
        (
            "hubspot",
            "/hubspot/crm/v3/objects/contacts/a@b.co?idProperty=email",
            HUBSPOT,
            "GET /crm/v3/objects/contacts/{id}",
        ),
        ("zendesk", "/zendesk/api/v2/tickets/5.json", ZENDESK, "GET /api/v2/tickets/{id}"),
        ("zendesk", "/zendesk/api/v2/search.json?query=x", ZENDESK, "GET /api/v2/search"),
        ("stripe", "/stripe/v1/customers/cus_missing", STRIPE, "GET /v1/customers/{id}"),
    ],
)
async def test_a_read_of_each_provider_counts_under_its_template(
    client: httpx.AsyncClient, provider: str, path: str, headers: dict[str, str], key: str
) -> None:
    await client.get(path, headers=headers)
    await client.get(path, headers=headers)
    body = await state(client)
    assert body[provider]["reads"] == {key: 2}
    assert body[provider]["requests"] == {}
    assert body[provider]["calls"] == 2
    others = [p for p in PROVIDERS if p != provider]
    assert all(body[p]["reads"] == {} and body[p]["calls"] == 0 for p in others)


async def test_a_404_read_is_counted(client: httpx.AsyncClient) -> None:
    missing = await client.get("/hubspot/crm/v3/objects/contacts/999", headers=HUBSPOT)
    assert missing.status_code == 404
    found = await client.get(f"{V2}/community_members/search?email=no@b.co", headers=CIRCLE)
    assert found.status_code == 404
    body = await state(client)
    assert body["hubspot"]["reads"] == {"GET /crm/v3/objects/contacts/{id}": 1}
    assert body["circle"]["reads"] == {"GET /api/admin/v2/community_members/search": 1}


async def test_a_rate_limited_read_is_counted_as_a_read_and_rejected(
    app_factory: Callable[..., FastAPI],
) -> None:
    async with client_for(app_factory(sandbox_circle_rate_limit=2)) as client:
        statuses = [
            (await client.get(f"{V2}/access_groups", headers=CIRCLE)).status_code for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        circle = (await state(client))["circle"]
        assert circle["reads"] == {"GET /api/admin/v2/access_groups": 3}
        assert circle["rejected"] == {"GET /api/admin/v2/access_groups": 1}
        assert circle["calls"] == 3


async def test_an_unauthorized_read_is_counted(client: httpx.AsyncClient) -> None:
    refused = await client.get("/kit/v4/tags", headers={"X-Kit-Api-Key": "wrong"})
    assert refused.status_code == 401
    kit = (await state(client))["kit"]
    assert kit["reads"] == {"GET /v4/tags": 1}
    assert kit["rejected"] == {"GET /v4/tags": 1}
    assert kit["calls"] == 1


async def test_an_injected_429_read_is_counted_but_a_dropped_one_is_not(
    client: httpx.AsyncClient,
) -> None:
    fault = {"provider": "kit", "status": 429, "count": 1, "method": "GET"}
    assert (await client.post("/_sandbox/faults", json=fault)).status_code == 201
    assert (await client.get("/kit/v4/subscribers/1/tags", headers=KIT)).status_code == 429
    drop = {"provider": "kit", "drop": True, "count": 1}
    assert (await client.post("/_sandbox/faults", json=drop)).status_code == 201
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get("/kit/v4/subscribers/1/tags", headers=KIT)
    kit = (await state(client))["kit"]
    assert kit["reads"] == {"GET /v4/subscribers/{subscriber_id}/tags": 1}
    assert kit["faulted"] == {"GET /v4/subscribers/{subscriber_id}/tags": 2}
    assert kit["calls"] == 1


async def test_writes_are_not_reads_but_are_calls(client: httpx.AsyncClient) -> None:
    await client.post(f"{V2}/community_members", json={"email": "a@b.co"}, headers=CIRCLE)
    await client.post("/kit/v4/subscribers", json={"email_address": "a@b.co"}, headers=KIT)
    await client.put("/kit/v4/subscribers/999", json={"first_name": "A"}, headers=KIT)  # 404
    await client.delete("/kit/v4/tags/1/subscribers/1", headers=KIT)
    await client.post("/kit/v4/tags", json={"name": "x"}, headers={"X-Kit-Api-Key": "wrong"})
    await client.get("/kit/v4/tags", headers=KIT)
    body = await state(client)
    assert body["circle"]["reads"] == {}
    assert body["circle"]["requests"] == {"POST /api/admin/v2/community_members": 1}
    assert body["circle"]["calls"] == 1
    kit = body["kit"]
    assert kit["reads"] == {"GET /v4/tags": 1}
    assert kit["requests"] == {
        "POST /v4/subscribers": 1,
        "PUT /v4/subscribers/{id}": 1,
        "DELETE /v4/tags/{tag_id}/subscribers/{id}": 1,
    }
    # The refused write is no request (it never reached the logic), but a quota counts it.
    assert kit["rejected"] == {"POST /v4/tags": 1}
    assert kit["calls"] == 5


async def test_an_injected_error_on_a_write_is_a_call_not_a_read(
    client: httpx.AsyncClient,
) -> None:
    fault = {"provider": "hubspot", "status": 503, "count": 1}
    assert (await client.post("/_sandbox/faults", json=fault)).status_code == 201
    body = {"properties": {"email": "a@b.co"}}
    assert (
        await client.post("/hubspot/crm/v3/objects/contacts", json=body, headers=HUBSPOT)
    ).status_code == 503
    hubspot = (await state(client))["hubspot"]
    assert hubspot["reads"] == {}
    assert hubspot["requests"] == {}
    assert hubspot["calls"] == 1


async def test_control_routes_are_not_counted(client: httpx.AsyncClient) -> None:
    await client.get("/_sandbox/faults")
    await client.get("/_sandbox/state")
    await client.get("/_sandbox/openapi.json")
    body = await state(client)
    assert all(body[p]["reads"] == {} and body[p]["calls"] == 0 for p in PROVIDERS)


async def test_reset_clears_reads_and_calls(client: httpx.AsyncClient) -> None:
    for headers, path in ((KIT, "/kit/v4/tags"), (CIRCLE, f"{V2}/access_groups")):
        await client.get(path, headers=headers)
    await client.get("/kit/v4/tags", headers={"X-Kit-Api-Key": "wrong"})
    await client.post("/kit/v4/tags", json={"name": "x"}, headers={"X-Kit-Api-Key": "wrong"})
    await client.post("/_sandbox/reset", params={"provider": "kit"})
    body = await state(client)
    assert (body["kit"]["reads"], body["kit"]["calls"]) == ({}, 0)
    assert body["circle"]["reads"] == {"GET /api/admin/v2/access_groups": 1}
    assert body["circle"]["calls"] == 1
    await client.post("/_sandbox/reset")
    body = await state(client)
    assert all(body[p]["reads"] == {} and body[p]["calls"] == 0 for p in PROVIDERS)
