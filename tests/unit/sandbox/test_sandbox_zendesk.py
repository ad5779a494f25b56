from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI

from tests.unit.sandbox.conftest import ZENDESK, client_for, state

TICKETS = "/zendesk/api/v2/tickets"


def ticket(subject: str = "Circle sync failed", external_id: str = "incident:1") -> dict[str, Any]:
    return {
        "ticket": {
            "subject": subject,
            "comment": {"body": "Adding jane to Members failed 4 times.", "public": False},
            "requester": {"name": "Jane Doe", "email": "jane@example.com"},
            "tags": ["switchboard", "circle"],
            "external_id": external_id,
            "priority": "high",
        }
    }


async def create(client: httpx.AsyncClient, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {**ZENDESK, **({"Idempotency-Key": key} if key else {})}
    return await client.post(f"{TICKETS}.json", json=body, headers=headers)


async def test_create_keeps_what_support_needs(client: httpx.AsyncClient) -> None:
    response = await create(client, ticket())
    assert response.status_code == 201
    assert response.json()["ticket"]["status"] == "new"
    [stored] = (await state(client))["zendesk"]["tickets"]
    assert stored["subject"] == "Circle sync failed"
    assert stored["description"] == "Adding jane to Members failed 4 times."
    assert stored["requester_email"] == "jane@example.com"
    assert stored["tags"] == ["switchboard", "circle"]
    assert stored["external_id"] == "incident:1"


async def test_idempotency_key_miss_then_hit(client: httpx.AsyncClient) -> None:
    first = await create(client, ticket(), key="evt_1-ticket")
    assert first.status_code == 201
    assert first.headers["x-idempotency-lookup"] == "miss"
    second = await create(client, ticket(), key="evt_1-ticket")
    assert second.status_code == 201
    assert second.headers["x-idempotency-lookup"] == "hit"
    assert second.json()["ticket"]["id"] == first.json()["ticket"]["id"]
    zendesk = (await state(client))["zendesk"]
    assert len(zendesk["tickets"]) == 1
    assert zendesk["requests"] == {"POST /api/v2/tickets": 2}


async def test_same_key_with_another_body_is_400(client: httpx.AsyncClient) -> None:
    await create(client, ticket(), key="k")
    response = await create(client, ticket(subject="Something else"), key="k")
    assert response.status_code == 400
    assert response.json() == {
        "error": "IdempotentRequestError",
        "description": "Request parameters don't match the given idempotency key",
    }


async def test_keys_expire_after_two_hours(app_factory: Callable[..., FastAPI]) -> None:
    now = [1_800_000_000.0]
    async with client_for(app_factory(clock=lambda: now[0])) as client:
        first = await create(client, ticket(), key="k")
        now[0] += 2 * 3600 + 1
        second = await create(client, ticket(), key="k")
        assert second.headers["x-idempotency-lookup"] == "miss"
        assert second.json()["ticket"]["id"] != first.json()["ticket"]["id"]


async def test_update_status_and_add_a_comment(client: httpx.AsyncClient) -> None:
    ticket_id = (await create(client, ticket())).json()["ticket"]["id"]
    update = {
        "ticket": {"status": "solved", "comment": {"body": "Replayed, fixed.", "public": False}}
    }
    response = await client.put(f"{TICKETS}/{ticket_id}.json", json=update, headers=ZENDESK)
    assert response.status_code == 200
    shown = await client.get(f"{TICKETS}/{ticket_id}", headers=ZENDESK)
    assert shown.json()["ticket"]["status"] == "solved"
    [stored] = (await state(client))["zendesk"]["tickets"]
    assert [c["body"] for c in stored["comments"]][-1] == "Replayed, fixed."
    assert stored["description"] == "Adding jane to Members failed 4 times."


async def test_missing_ticket_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{TICKETS}/999", headers=ZENDESK)
    assert response.status_code == 404
    assert response.json()["error"] == "RecordNotFound"


async def test_search_by_external_id(client: httpx.AsyncClient) -> None:
    await create(client, ticket(external_id="incident:1"))
    await create(client, ticket(external_id="incident:2"))
    response = await client.get(
        "/zendesk/api/v2/search.json",
        params={"query": "type:ticket external_id:incident:2"},
        headers=ZENDESK,
    )
    results = response.json()["results"]
    assert [r["external_id"] for r in results] == ["incident:2"]
    assert results[0]["result_type"] == "ticket"


async def test_ticket_without_a_comment_is_422(client: httpx.AsyncClient) -> None:
    response = await create(client, {"ticket": {"subject": "no body"}})
    assert response.status_code == 422
    assert response.json()["error"] == "RecordInvalid"


async def test_over_the_limit_is_429_with_retry_after(app_factory: Callable[..., FastAPI]) -> None:
    async with client_for(app_factory(sandbox_zendesk_rate_limit=1)) as client:
        assert (await client.get(TICKETS, headers=ZENDESK)).status_code == 200
        limited = await client.get(TICKETS, headers=ZENDESK)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1


async def test_concurrent_duplicates_make_one_ticket(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(*(create(client, ticket(), key="same") for _ in range(20)))
    assert {r.status_code for r in responses} == {201}
    assert sorted(r.headers["x-idempotency-lookup"] for r in responses).count("miss") == 1
    assert len((await state(client))["zendesk"]["tickets"]) == 1
