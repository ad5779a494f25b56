"""Eventual consistency where the providers have it, with an injected clock: Kit's list and filter
endpoints and HubSpot's CRM search lag writes; lookups by id and write answers do not. And the
control route that changes the lags (`/_sandbox/consistency`), which a reset restores."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.unit.sandbox.conftest import HUBSPOT, KIT, client_for

KIT_LAG, HUBSPOT_LAG = 30.0, 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def lagged(
    app_factory: Callable[..., FastAPI], clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    app = app_factory(
        clock=clock,
        sandbox_kit_list_lag_s=KIT_LAG,
        sandbox_hubspot_search_lag_s=HUBSPOT_LAG,
        sandbox_hubspot_search_rate_limit=0,
    )
    async with client_for(app) as client:
        yield client


# -- Kit -------------------------------------------------------------------------------------
async def subscribe(client: httpx.AsyncClient, email: str, **extra: Any) -> int:
    body = {"email_address": email, **extra}
    response = await client.post("/kit/v4/subscribers", json=body, headers=KIT)
    assert response.status_code in (200, 201)
    return int(response.json()["subscriber"]["id"])


async def by_email(client: httpx.AsyncClient, email: str, status: str = "all") -> list[Any]:
    params = {"email_address": email, "status": status}
    response = await client.get("/kit/v4/subscribers", params=params, headers=KIT)
    assert response.status_code == 200
    return list(response.json()["subscribers"])


async def tagged(client: httpx.AsyncClient, tag_id: int) -> list[Any]:
    params = {"status": "all"}
    response = await client.get(f"/kit/v4/tags/{tag_id}/subscribers", params=params, headers=KIT)
    assert response.status_code == 200
    return list(response.json()["subscribers"])


async def make_tag(client: httpx.AsyncClient, name: str) -> int:
    response = await client.post("/kit/v4/tags", json={"name": name}, headers=KIT)
    return int(response.json()["tag"]["id"])


async def test_kit_a_new_subscriber_is_found_by_id_at_once_by_email_after_the_lag(
    lagged: httpx.AsyncClient, clock: Clock
) -> None:
    sid = await subscribe(lagged, "jane@example.com", first_name="Jane")
    found = await lagged.get(f"/kit/v4/subscribers/{sid}", headers=KIT)
    assert found.status_code == 200
    assert found.json()["subscriber"]["first_name"] == "Jane"
    assert await by_email(lagged, "jane@example.com") == []
    listed = await lagged.get("/kit/v4/subscribers", headers=KIT)
    assert listed.json()["subscribers"] == []
    clock.now += KIT_LAG - 1
    assert await by_email(lagged, "jane@example.com") == []  # a miss is no proof of absence
    clock.now += 1
    assert [s["id"] for s in await by_email(lagged, "jane@example.com")] == [sid]


async def test_kit_a_tagging_shows_in_the_tag_list_only_after_the_lag(
    lagged: httpx.AsyncClient, clock: Clock
) -> None:
    tag_id = await make_tag(lagged, "customer")
    sid = await subscribe(lagged, "jane@example.com")
    clock.now += KIT_LAG  # the subscriber has reached the replica; the tagging has not
    answer = await lagged.post(
        f"/kit/v4/tags/{tag_id}/subscribers",
        json={"email_address": "jane@example.com"},
        headers=KIT,
    )
    assert answer.status_code == 201
    tagged_at = answer.json()["subscriber"]["tagged_at"]
    # By id: at once.
    tags = await lagged.get(f"/kit/v4/subscribers/{sid}/tags", headers=KIT)
    assert [t["name"] for t in tags.json()["tags"]] == ["customer"]
    assert await tagged(lagged, tag_id) == []
    clock.now += KIT_LAG
    listed = await tagged(lagged, tag_id)
    assert [(s["id"], s["tagged_at"]) for s in listed] == [(sid, tagged_at)]


async def test_kit_an_untagged_subscriber_is_still_listed_within_the_lag(
    lagged: httpx.AsyncClient, clock: Clock
) -> None:
    tag_id = await make_tag(lagged, "customer")
    sid = await subscribe(lagged, "jane@example.com")
    await lagged.post(f"/kit/v4/tags/{tag_id}/subscribers/{sid}", headers=KIT)
    clock.now += KIT_LAG
    tagged_at = (await tagged(lagged, tag_id))[0]["tagged_at"]
    removed = await lagged.delete(f"/kit/v4/tags/{tag_id}/subscribers/{sid}", headers=KIT)
    assert removed.status_code == 204
    tags = await lagged.get(f"/kit/v4/subscribers/{sid}/tags", headers=KIT)
    assert tags.json()["tags"] == []  # by id: gone at once
    # The list still shows it, with the tagged_at it had.
    assert [(s["id"], s["tagged_at"]) for s in await tagged(lagged, tag_id)] == [(sid, tagged_at)]
    clock.now += KIT_LAG
    assert await tagged(lagged, tag_id) == []


async def test_kit_changes_show_their_older_version_within_the_lag(
    lagged: httpx.AsyncClient, clock: Clock
) -> None:
    sid = await subscribe(lagged, "jane@example.com", first_name="Jane")
    clock.now += KIT_LAG
    await lagged.put(
        f"/kit/v4/subscribers/{sid}", json={"email_address": "jane@new.example.com"}, headers=KIT
    )
    await lagged.post(f"/kit/v4/subscribers/{sid}/unsubscribe", headers=KIT)
    # The list still knows the old address, and the subscriber as active.
    assert [s["id"] for s in await by_email(lagged, "jane@example.com", "active")] == [sid]
    assert await by_email(lagged, "jane@new.example.com") == []
    fresh = await lagged.get(f"/kit/v4/subscribers/{sid}", headers=KIT)
    assert fresh.json()["subscriber"]["state"] == "cancelled"
    clock.now += KIT_LAG
    assert await by_email(lagged, "jane@example.com") == []
    moved = await by_email(lagged, "JANE@new.example.com")
    assert [(s["id"], s["state"]) for s in moved] == [(sid, "cancelled")]


# -- HubSpot ---------------------------------------------------------------------------------
async def search(client: httpx.AsyncClient, email: str) -> list[Any]:
    filters = [{"propertyName": "email", "operator": "EQ", "value": email}]
    body = {"filterGroups": [{"filters": filters}], "properties": ["email", "firstname"]}
    response = await client.post(
        "/hubspot/crm/v3/objects/contacts/search", json=body, headers=HUBSPOT
    )
    assert response.status_code == 200
    return list(response.json()["results"])


async def test_hubspot_a_new_contact_is_read_by_id_at_once_searched_after_the_lag(
    lagged: httpx.AsyncClient, clock: Clock
) -> None:
    created = await lagged.post(
        "/hubspot/crm/v3/objects/contacts",
        json={"properties": {"email": "jane@example.com", "firstname": "Jane"}},
        headers=HUBSPOT,
    )
    assert created.status_code == 201
    contact_id = created.json()["id"]
    read = await lagged.get(f"/hubspot/crm/v3/objects/contacts/{contact_id}", headers=HUBSPOT)
    assert read.status_code == 200
    assert await search(lagged, "jane@example.com") == []
    clock.now += HUBSPOT_LAG
    assert [r["id"] for r in await search(lagged, "jane@example.com")] == [contact_id]


async def test_hubspot_an_update_is_searched_with_the_old_values_within_the_lag(
    lagged: httpx.AsyncClient, clock: Clock
) -> None:
    upsert = "/hubspot/crm/v3/objects/contacts/batch/upsert"

    async def upsert_name(name: str) -> None:
        item = {"idProperty": "email", "id": "jane@example.com", "properties": {"firstname": name}}
        answer = await lagged.post(upsert, json={"inputs": [item]}, headers=HUBSPOT)
        assert answer.status_code == 200
        assert answer.json()["results"][0]["properties"]["firstname"] == name  # fresh answer

    await upsert_name("Jane")
    clock.now += HUBSPOT_LAG
    await upsert_name("Janet")
    read = await lagged.get(
        "/hubspot/crm/v3/objects/contacts/jane@example.com",
        params={"idProperty": "email", "properties": "firstname"},
        headers=HUBSPOT,
    )
    assert read.json()["properties"]["firstname"] == "Janet"
    assert [r["properties"]["firstname"] for r in await search(lagged, "jane@example.com")] == [
        "Jane"
    ]
    clock.now += HUBSPOT_LAG
    found = await search(lagged, "jane@example.com")
    assert [r["properties"]["firstname"] for r in found] == ["Janet"]


# -- the control route -----------------------------------------------------------------------
async def test_the_control_route_shows_and_changes_the_lags(
    lagged: httpx.AsyncClient, clock: Clock
) -> None:
    shown = await lagged.get("/_sandbox/consistency")
    assert shown.json() == {"kit_list_lag_s": KIT_LAG, "hubspot_search_lag_s": HUBSPOT_LAG}
    changed = await lagged.put("/_sandbox/consistency", json={"kit_list_lag_s": 0})
    assert changed.status_code == 200
    assert changed.json() == {"kit_list_lag_s": 0.0, "hubspot_search_lag_s": HUBSPOT_LAG}
    sid = await subscribe(lagged, "jane@example.com")
    assert [s["id"] for s in await by_email(lagged, "jane@example.com")] == [sid]  # at once


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kit_list_lag_s": -1}, "kit_list_lag_s: Input should be greater than or equal to 0"),
        ({"hubspot_search_lag_s": "5"}, "hubspot_search_lag_s: Input should be a valid number"),
        ({"kit_list_lag_s": None}, "kit_list_lag_s: Input should be a valid number"),
        ({"kit_list_lag_s": 86_400}, "kit_list_lag_s: Input should be less than or equal to 3600"),
        ({"kit_lag": 1}, "kit_lag: Extra inputs are not permitted"),
        ([1], "Input should be an object"),
    ],
)
async def test_the_control_route_refuses_bad_lags(
    lagged: httpx.AsyncClient, body: Any, message: str
) -> None:
    refused = await lagged.put("/_sandbox/consistency", json=body)
    assert refused.status_code == 422
    assert refused.json() == {"error": "invalid_consistency", "message": message}
    shown = await lagged.get("/_sandbox/consistency")
    assert shown.json() == {"kit_list_lag_s": KIT_LAG, "hubspot_search_lag_s": HUBSPOT_LAG}


async def test_reset_restores_the_configured_lags(lagged: httpx.AsyncClient) -> None:
    await lagged.put("/_sandbox/consistency", json={"kit_list_lag_s": 1, "hubspot_search_lag_s": 2})
    await lagged.post("/_sandbox/reset", params={"provider": "kit"})
    shown = (await lagged.get("/_sandbox/consistency")).json()
    assert shown == {"kit_list_lag_s": KIT_LAG, "hubspot_search_lag_s": 2.0}
    await lagged.put("/_sandbox/consistency", json={"kit_list_lag_s": 1})
    await lagged.post("/_sandbox/reset")
    shown = (await lagged.get("/_sandbox/consistency")).json()
    assert shown == {"kit_list_lag_s": KIT_LAG, "hubspot_search_lag_s": HUBSPOT_LAG}


def test_the_settings_default_to_short_realistic_lags(monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox.settings import SandboxSettings

    monkeypatch.delenv("SWITCHBOARD_SANDBOX_KIT_LIST_LAG_S", raising=False)
    monkeypatch.setenv("SWITCHBOARD_SANDBOX_HUBSPOT_SEARCH_LAG_S", "0")
    settings = SandboxSettings()
    assert (settings.sandbox_kit_list_lag_s, settings.sandbox_hubspot_search_lag_s) == (30.0, 0.0)
    monkeypatch.setenv("SWITCHBOARD_SANDBOX_KIT_LIST_LAG_S", "-1")
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        SandboxSettings()
