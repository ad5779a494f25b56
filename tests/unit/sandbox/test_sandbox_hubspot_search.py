"""`POST /crm/v3/objects/contacts/search`: HubSpot's CRM search, as a reconcile sweep pages it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.unit.sandbox.conftest import HUBSPOT, client_for, state

CONTACTS = "/hubspot/crm/v3/objects/contacts"
SEARCH = f"{CONTACTS}/search"
KEY = "POST /crm/v3/objects/contacts/search"
CUSTOM = "switchboard_lifecycle,switchboard_customer_id"


@pytest.fixture
async def client(app_factory: Callable[..., FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app_factory(sandbox_hubspot_custom_properties=CUSTOM)) as c:
        yield c


async def seed(client: httpx.AsyncClient, *people: tuple[str, dict[str, str]]) -> list[str]:
    """Upsert in batches of 100; the contacts' ids, in order."""
    ids: list[str] = []
    for start in range(0, len(people), 100):
        inputs = [
            {"idProperty": "email", "id": email, "properties": props}
            for email, props in people[start : start + 100]
        ]
        response = await client.post(
            f"{CONTACTS}/batch/upsert", json={"inputs": inputs}, headers=HUBSPOT
        )
        assert response.status_code == 200, response.text
        ids.extend(r["id"] for r in response.json()["results"])
    return ids


async def search(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(SEARCH, json=body, headers=HUBSPOT)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def where(*filters: dict[str, Any]) -> dict[str, Any]:
    return {"filters": list(filters)}


async def test_has_property_finds_the_contacts_that_carry_it(client: httpx.AsyncClient) -> None:
    ids = await seed(
        client,
        ("a@example.com", {"switchboard_customer_id": "cus_A", "switchboard_lifecycle": "paid"}),
        ("b@example.com", {"firstname": "Bo"}),
        ("c@example.com", {"switchboard_customer_id": "cus_C"}),
    )
    has = where({"propertyName": "switchboard_customer_id", "operator": "HAS_PROPERTY"})
    found = await search(
        client,
        filterGroups=[has],
        properties=["email", "switchboard_customer_id", "switchboard_lifecycle"],
        limit=10,
    )
    assert found["total"] == 2
    assert "paging" not in found
    first = found["results"][0]
    assert first["id"] == ids[0]
    assert first["archived"] is False
    assert first["createdAt"] == first["properties"]["createdate"]
    assert first["updatedAt"] == first["properties"]["lastmodifieddate"]
    assert first["properties"] == {
        "email": "a@example.com",
        "switchboard_customer_id": "cus_A",
        "switchboard_lifecycle": "paid",
        "hs_object_id": ids[0],
        "createdate": first["createdAt"],
        "lastmodifieddate": first["updatedAt"],
    }
    # A property the contact lacks comes back as null.
    assert found["results"][1]["properties"]["switchboard_lifecycle"] is None
    lacks = where({"propertyName": "switchboard_customer_id", "operator": "NOT_HAS_PROPERTY"})
    assert [r["id"] for r in (await search(client, filterGroups=[lacks]))["results"]] == [ids[1]]


async def test_keyset_paging_walks_every_contact_once(client: httpx.AsyncClient) -> None:
    ids = await seed(
        client, *((f"p{i}@example.com", {"switchboard_lifecycle": "paid"}) for i in range(250))
    )
    seen: list[str] = []
    last = "0"
    pages = 0
    while True:
        page = await search(
            client,
            filterGroups=[where({"propertyName": "hs_object_id", "operator": "GT", "value": last})],
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            properties=["email"],
            limit=200,
        )
        pages += 1
        assert page["total"] == 250 - len(seen)
        seen.extend(r["id"] for r in page["results"])
        if "paging" not in page:
            break
        assert page["paging"] == {"next": {"after": "200"}}
        last = seen[-1]
    assert pages == 2
    assert seen == ids  # every contact once, in id order


async def test_hs_object_id_compares_as_a_number(client: httpx.AsyncClient) -> None:
    ids = await seed(client, ("a@example.com", {}), ("b@example.com", {}))
    # Ids are 1001 and up: as text "1001" < "999", as numbers it is the other way round.
    above = where({"propertyName": "hs_object_id", "operator": "GT", "value": "999"})
    assert [r["id"] for r in (await search(client, filterGroups=[above]))["results"]] == ids
    listed = where({"propertyName": "hs_object_id", "operator": "IN", "values": [int(ids[1])]})
    assert [r["id"] for r in (await search(client, filterGroups=[listed]))["results"]] == ids[1:]


async def test_groups_are_ored_and_filters_within_a_group_anded(
    client: httpx.AsyncClient,
) -> None:
    ids = await seed(
        client,
        ("a@example.com", {"switchboard_lifecycle": "paid", "firstname": "Ann"}),
        ("b@example.com", {"switchboard_lifecycle": "paid", "firstname": "Bob"}),
        ("c@example.com", {"switchboard_lifecycle": "revoked"}),
        ("d@example.com", {}),
    )
    paid_ann = where(
        {"propertyName": "switchboard_lifecycle", "operator": "EQ", "value": "paid"},
        {"propertyName": "firstname", "operator": "EQ", "value": "ann"},  # case-insensitive
    )
    revoked = where({"propertyName": "email", "operator": "EQ", "value": "C@example.com"})
    found = await search(client, filterGroups=[paid_ann, revoked])
    assert [r["id"] for r in found["results"]] == [ids[0], ids[2]]
    assert found["results"][0]["properties"]["email"] == "a@example.com"  # default properties


async def test_offset_paging_and_descending_sort(client: httpx.AsyncClient) -> None:
    ids = await seed(client, *((f"p{i}@example.com", {}) for i in range(5)))
    body = {"sorts": [{"propertyName": "hs_object_id", "direction": "DESCENDING"}], "limit": 2}
    first = await search(client, **body)
    assert [r["id"] for r in first["results"]] == [ids[4], ids[3]]
    second = await search(client, **body, after=first["paging"]["next"]["after"])
    assert [r["id"] for r in second["results"]] == [ids[2], ids[1]]
    last = await search(client, **body, after="4")
    assert [r["id"] for r in last["results"]] == [ids[0]]
    assert "paging" not in last


def validation_error(response: httpx.Response, fragment: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "error"
    assert body["category"] == "VALIDATION_ERROR"
    assert body["correlationId"]
    assert fragment in body["message"]


def many(count: int) -> list[dict[str, Any]]:
    return [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * count


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"limit": 201}, "limit"),
        ({"limit": 0}, "limit"),
        ({"after": "10000"}, "10000"),
        ({"after": "9950", "limit": 100}, "10000"),  # no page may reach past the 10,000th
        ({"after": "WzEwMDFd"}, "deserialize"),  # a cursor, not an offset
        ({"filterGroups": [where(*many(1))] * 6}, "filter groups"),
        ({"filterGroups": [where(*many(7))]}, "filters in a group"),
        ({"filterGroups": [where(*many(6))] * 4}, "maximum is 18"),
        ({"filterGroups": [where({"propertyName": "email", "operator": "LIKE"})]}, "operator"),
        ({"filterGroups": [where({"propertyName": "email", "operator": "EQ"})]}, "value"),
        (
            {
                "filterGroups": [
                    where({"propertyName": "hs_object_id", "operator": "GT", "value": "x"})
                ]
            },
            "number",
        ),
        ({"sorts": [{"propertyName": "email", "direction": "UP"}]}, "direction"),
    ],
)
async def test_what_hubspot_refuses_is_400_validation_error(
    client: httpx.AsyncClient, body: dict[str, Any], fragment: str
) -> None:
    validation_error(await client.post(SEARCH, json=body, headers=HUBSPOT), fragment)


async def test_the_last_offset_page_before_10000_is_answered(client: httpx.AsyncClient) -> None:
    await seed(client, ("a@example.com", {}))
    page = await search(client, after="9800", limit=200)
    assert page == {"total": 1, "results": []}


async def test_a_search_is_a_read_not_a_request(client: httpx.AsyncClient) -> None:
    await seed(client, ("a@example.com", {}))
    await search(client)
    await client.post(SEARCH, json={"limit": 500}, headers=HUBSPOT)  # a 400 is a read too
    await client.post(SEARCH, json={}, headers={"Authorization": "Bearer wrong"})
    hubspot = (await state(client))["hubspot"]
    assert hubspot["reads"] == {KEY: 3}
    assert hubspot["rejected"] == {KEY: 1}
    assert hubspot["requests"] == {"POST /crm/v3/objects/contacts/batch/upsert": 1}
    assert hubspot["calls"] == 4


async def test_a_faulted_search_is_a_faulted_read(client: httpx.AsyncClient) -> None:
    fault = {"provider": "hubspot", "status": 503, "count": 1, "path": "*/search"}
    assert (await client.post("/_sandbox/faults", json=fault)).status_code == 201
    response = await client.post(SEARCH, json={}, headers=HUBSPOT)
    assert response.status_code == 503
    assert (await client.post(SEARCH, json={}, headers=HUBSPOT)).status_code == 200
    hubspot = (await state(client))["hubspot"]
    assert hubspot["faulted"] == {KEY: 1}
    assert hubspot["reads"] == {KEY: 2}
    assert hubspot["requests"] == {}
    assert hubspot["calls"] == 2


async def test_search_has_its_own_rate_limit(app_factory: Callable[..., FastAPI]) -> None:
    app = app_factory(sandbox_hubspot_search_rate_limit=2, sandbox_hubspot_search_rate_window_s=60)
    async with client_for(app) as client:
        for _ in range(2):
            assert (await client.post(SEARCH, json={}, headers=HUBSPOT)).status_code == 200
        limited = await client.post(SEARCH, json={}, headers=HUBSPOT)
        assert limited.status_code == 429
        assert limited.json()["policyName"] == "SECONDLY"
        # Other calls still pass: the search limit is the search's own.
        got = await client.get(f"{CONTACTS}/1", headers=HUBSPOT)
        assert got.status_code == 404
        hubspot = (await state(client))["hubspot"]
        assert hubspot["reads"][KEY] == 3
        assert hubspot["rejected"] == {KEY: 1}
        await client.post("/_sandbox/reset", params={"provider": "hubspot"})
        assert (await client.post(SEARCH, json={}, headers=HUBSPOT)).status_code == 200


async def test_dates_compare_as_instants(client: httpx.AsyncClient) -> None:
    await seed(client, ("a@example.com", {}))
    since = where({"propertyName": "createdate", "operator": "GTE", "value": "946684800000"})
    assert (await search(client, filterGroups=[since]))["total"] == 1
    future = where({"propertyName": "lastmodifieddate", "operator": "GT", "value": "2999-01-01"})
    assert (await search(client, filterGroups=[future]))["total"] == 0
