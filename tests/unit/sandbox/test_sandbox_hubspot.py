from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI

from tests.unit.sandbox.conftest import HUBSPOT, client_for, state

CONTACTS = "/hubspot/crm/v3/objects/contacts"


async def upsert(client: httpx.AsyncClient, email: str, **properties: str) -> httpx.Response:
    body = {"inputs": [{"idProperty": "email", "id": email, "properties": properties}]}
    return await client.post(f"{CONTACTS}/batch/upsert", json=body, headers=HUBSPOT)


def only_result(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    assert len(results) == 1
    return results[0]


async def test_batch_upsert_says_new_true_then_false(client: httpx.AsyncClient) -> None:
    first = only_result(await upsert(client, "jane@example.com", lifecyclestage="customer"))
    assert first["new"] is True
    second = only_result(await upsert(client, "JANE@example.com", switchboard_lifecycle="active"))
    assert second["new"] is False
    assert second["id"] == first["id"]
    contacts = (await state(client))["hubspot"]["contacts"]
    assert len(contacts) == 1
    assert contacts[0]["properties"]["email"] == "jane@example.com"
    assert contacts[0]["properties"]["lifecyclestage"] == "customer"
    assert contacts[0]["properties"]["switchboard_lifecycle"] == "active"


async def test_create_with_an_existing_email_is_409_naming_the_id(
    client: httpx.AsyncClient,
) -> None:
    contact_id = only_result(await upsert(client, "jane@example.com"))["id"]
    response = await client.post(
        CONTACTS, json={"properties": {"email": "jane@example.com"}}, headers=HUBSPOT
    )
    assert response.status_code == 409
    body = response.json()
    assert body["category"] == "CONFLICT"
    assert body["message"] == f"Contact already exists. Existing ID: {contact_id}"


async def test_patch_and_get_by_email(client: httpx.AsyncClient) -> None:
    created = await client.post(
        CONTACTS, json={"properties": {"email": "jane@example.com"}}, headers=HUBSPOT
    )
    assert created.status_code == 201
    patched = await client.patch(
        f"{CONTACTS}/jane@example.com",
        params={"idProperty": "email"},
        json={"properties": {"switchboard_lifecycle": "paid"}},
        headers=HUBSPOT,
    )
    assert patched.status_code == 200
    got = await client.get(
        f"{CONTACTS}/jane@example.com",
        params={"idProperty": "email", "properties": "switchboard_lifecycle,lifecyclestage"},
        headers=HUBSPOT,
    )
    properties = got.json()["properties"]
    assert properties["switchboard_lifecycle"] == "paid"
    assert properties["lifecyclestage"] is None
    by_id = await client.get(f"{CONTACTS}/{created.json()['id']}", headers=HUBSPOT)
    assert by_id.json()["properties"]["email"] == "jane@example.com"


async def test_missing_contact_is_404(client: httpx.AsyncClient) -> None:
    response = await client.patch(
        f"{CONTACTS}/nobody@example.com",
        params={"idProperty": "email"},
        json={"properties": {"firstname": "x"}},
        headers=HUBSPOT,
    )
    assert response.status_code == 404
    assert response.json()["category"] == "OBJECT_NOT_FOUND"


async def test_unknown_property_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        CONTACTS,
        json={"properties": {"email": "jane@example.com", "no_such_property": "x"}},
        headers=HUBSPOT,
    )
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in response.json()["message"]


async def test_lifecycle_stage_does_not_move_backwards_unless_cleared(
    client: httpx.AsyncClient,
) -> None:
    await upsert(client, "jane@example.com", lifecyclestage="customer")
    await upsert(client, "jane@example.com", lifecyclestage="lead")
    assert (await state(client))["hubspot"]["contacts"][0]["properties"]["lifecyclestage"] == (
        "customer"
    )
    await upsert(client, "jane@example.com", lifecyclestage="")
    await upsert(client, "jane@example.com", lifecyclestage="lead")
    assert (await state(client))["hubspot"]["contacts"][0]["properties"]["lifecyclestage"] == (
        "lead"
    )


async def test_over_the_limit_is_429_rate_limits(app_factory: Callable[..., FastAPI]) -> None:
    async with client_for(app_factory(sandbox_hubspot_rate_limit=1)) as client:
        await upsert(client, "jane@example.com")
        limited = await upsert(client, "jane@example.com")
        assert limited.status_code == 429
        body = limited.json()
        assert body["category"] == "RATE_LIMITS"
        assert body["policyName"] == "TEN_SECONDLY_ROLLING"


async def test_patch_by_email_can_change_the_email(client: httpx.AsyncClient) -> None:
    contact_id = only_result(await upsert(client, "old@example.com"))["id"]
    patched = await client.patch(
        f"{CONTACTS}/old@example.com",
        params={"idProperty": "email"},
        json={"properties": {"email": "new@example.com"}},
        headers=HUBSPOT,
    )
    assert patched.status_code == 200
    assert patched.json()["id"] == contact_id
    new = await client.get(
        f"{CONTACTS}/new@example.com", params={"idProperty": "email"}, headers=HUBSPOT
    )
    assert new.json()["id"] == contact_id
    old = await client.get(
        f"{CONTACTS}/old@example.com", params={"idProperty": "email"}, headers=HUBSPOT
    )
    assert old.status_code == 404


async def test_changing_the_email_to_another_contacts_is_409(client: httpx.AsyncClient) -> None:
    only_result(await upsert(client, "old@example.com"))
    other = only_result(await upsert(client, "new@example.com"))["id"]
    response = await client.patch(
        f"{CONTACTS}/old@example.com",
        params={"idProperty": "email"},
        json={"properties": {"email": "new@example.com"}},
        headers=HUBSPOT,
    )
    assert response.status_code == 409
    assert response.json()["message"] == f"Contact already exists. Existing ID: {other}"
