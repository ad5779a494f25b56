from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI

from tests.unit.sandbox.conftest import CIRCLE, state

V2 = "/circle/api/admin/v2"
NOT_FOUND = "Oops! Missing record. Please try again later."


def missing(response: httpx.Response, what: str) -> None:
    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "message": NOT_FOUND,
        "error_details": {"message": f"Missing record: {what}"},
    }


async def group_id(client: httpx.AsyncClient, name: str = "Members") -> int:
    response = await client.get(f"{V2}/access_groups", params={"name": name}, headers=CIRCLE)
    assert response.status_code == 200
    records: list[dict[str, Any]] = response.json()["records"]
    return int(next(r["id"] for r in records if r["name"] == name))


async def create(client: httpx.AsyncClient, email: str) -> httpx.Response:
    body = {"email": email, "name": "Jane Doe", "skip_invitation": True}
    return await client.post(f"{V2}/community_members", json=body, headers=CIRCLE)


async def test_search_for_an_unknown_email_is_404_naming_user(client: httpx.AsyncClient) -> None:
    response = await client.get(
        f"{V2}/community_members/search", params={"email": "nobody@example.com"}, headers=CIRCLE
    )
    missing(response, "user")


async def test_create_then_search_case_insensitively(client: httpx.AsyncClient) -> None:
    created = await create(client, "Jane@Example.com")
    assert created.status_code == 201
    member = created.json()["community_member"]
    assert member["email"] == "Jane@Example.com"
    assert member["active"] is True

    found = await client.get(
        f"{V2}/community_members/search", params={"email": "jane@EXAMPLE.com"}, headers=CIRCLE
    )
    assert found.status_code == 200
    assert found.json()["id"] == member["id"]
    shown = await client.get(f"{V2}/community_members/{member['id']}", headers=CIRCLE)
    assert shown.json()["email"] == "Jane@Example.com"


async def test_creating_an_existing_member_says_already_a_member(
    client: httpx.AsyncClient,
) -> None:
    first = (await create(client, "jane@example.com")).json()["community_member"]
    again = await create(client, "JANE@example.com")
    assert again.status_code == 200
    assert "already a member" in again.json()["message"]
    assert again.json()["community_member"]["id"] == first["id"]
    assert len((await state(client))["circle"]["members"]) == 1


async def test_access_groups_list_is_the_paginated_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{V2}/access_groups", params={"name": "Alumni"}, headers=CIRCLE)
    body = response.json()
    assert set(body) == {"page", "per_page", "has_next_page", "count", "page_count", "records"}
    assert [r["name"] for r in body["records"]] == ["Alumni"]
    assert body["has_next_page"] is False


async def test_group_add_and_remove_semantics(client: httpx.AsyncClient) -> None:
    await create(client, "jane@example.com")
    gid = await group_id(client)
    path = f"{V2}/access_groups/{gid}/community_members"

    added = await client.post(path, json={"email": "jane@example.com"}, headers=CIRCLE)
    assert added.status_code == 201
    repeat = await client.post(path, json={"email": "Jane@example.com"}, headers=CIRCLE)
    assert repeat.status_code == 200

    check = await client.get(
        f"{V2}/access_groups/{gid}/community_member",
        params={"email": "jane@example.com"},
        headers=CIRCLE,
    )
    assert check.status_code == 200
    assert check.json()["access_group_id"] == gid

    removed = await client.delete(path, params={"email": "jane@example.com"}, headers=CIRCLE)
    assert removed.status_code == 200
    again = await client.delete(path, params={"email": "jane@example.com"}, headers=CIRCLE)
    missing(again, "access group community member")

    circle = (await state(client))["circle"]
    assert circle["members"][0]["access_groups"] == []
    assert circle["requests"]["POST /api/admin/v2/access_groups/{id}/community_members"] == 2
    assert circle["requests"]["DELETE /api/admin/v2/access_groups/{id}/community_members"] == 2


async def test_group_add_names_what_is_missing(client: httpx.AsyncClient) -> None:
    gid = await group_id(client)
    unknown_user = await client.post(
        f"{V2}/access_groups/{gid}/community_members",
        json={"email": "nobody@example.com"},
        headers=CIRCLE,
    )
    missing(unknown_user, "user")
    await create(client, "jane@example.com")
    unknown_group = await client.post(
        f"{V2}/access_groups/999999/community_members",
        json={"email": "jane@example.com"},
        headers=CIRCLE,
    )
    missing(unknown_group, "access group")


async def test_membership_check_for_a_non_member_names_the_membership(
    client: httpx.AsyncClient,
) -> None:
    await create(client, "jane@example.com")
    gid = await group_id(client)
    response = await client.get(
        f"{V2}/access_groups/{gid}/community_member",
        params={"email": "jane@example.com"},
        headers=CIRCLE,
    )
    missing(response, "access group community member")


async def test_state_lists_members_with_group_names(client: httpx.AsyncClient) -> None:
    await create(client, "jane@example.com")
    gid = await group_id(client)
    await client.post(
        f"{V2}/access_groups/{gid}/community_members",
        json={"email": "jane@example.com"},
        headers=CIRCLE,
    )
    member = (await state(client))["circle"]["members"][0]
    assert member["email"] == "jane@example.com"
    assert member["access_groups"] == ["Members"]
    assert isinstance(member["id"], int)


async def test_deactivate_removes_the_member_and_is_404_after(client: httpx.AsyncClient) -> None:
    member_id = (await create(client, "jane@example.com")).json()["community_member"]["id"]
    gone = await client.delete(f"{V2}/community_members/{member_id}", headers=CIRCLE)
    assert gone.status_code == 200
    assert "removed from the community" in gone.json()["message"]
    missing(await client.delete(f"{V2}/community_members/{member_id}", headers=CIRCLE), "user")
    missing(
        await client.get(
            f"{V2}/community_members/search", params={"email": "jane@example.com"}, headers=CIRCLE
        ),
        "user",
    )


async def test_ban_is_recorded_and_counted(client: httpx.AsyncClient) -> None:
    member_id = (await create(client, "jane@example.com")).json()["community_member"]["id"]
    response = await client.put(f"{V2}/community_members/{member_id}/ban_member", headers=CIRCLE)
    assert response.status_code == 200
    circle = (await state(client))["circle"]
    assert circle["banned"] == ["jane@example.com"]
    assert circle["requests"]["PUT /api/admin/v2/community_members/{id}/ban_member"] == 1


async def test_invalid_email_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{V2}/community_members", json={"email": "not-an-email"}, headers=CIRCLE
    )
    assert response.status_code == 422
    assert response.json()["success"] is False


async def test_concurrent_creates_make_one_member(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(*(create(client, "jane@example.com") for _ in range(20)))
    assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
    assert len((await state(client))["circle"]["members"]) == 1


async def test_group_members_are_membership_records_joined_by_member_id(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # The spec's access_group_community_member has no email: the sweep joins on
    # community_member_id against GET community_members?status=all, which has it.
    gid = await group_id(client)
    store = app.state.sandbox.circle
    emails = {}
    for i in range(150):
        member = store.create_member(f"p{i}@example.com", None, skip_invitation=i % 10 != 0)
        emails[member.id] = member.email
        if i % 3 != 0:
            store.add_to_group(gid, member.email)

    async def walk(path: str, **params: str) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        page = 1
        while True:
            query = {"page": str(page), "per_page": "100", **params}
            body = (await client.get(f"{V2}/{path}", params=query, headers=CIRCLE)).json()
            records.extend(body["records"])
            if not body["has_next_page"]:
                return records
            page += 1

    memberships = await walk(f"access_groups/{gid}/community_members")
    assert len(memberships) == 100
    assert set(memberships[0]) == {
        "id",
        "access_group_id",
        "community_member_id",
        "community_id",
        "created_at",
        "updated_at",
    }
    assert {m["access_group_id"] for m in memberships} == {gid}
    # Invited members (not yet active) are only listed with status=all.
    members = {m["id"]: m["email"] for m in await walk("community_members", status="all")}
    assert members == emails
    joined = sorted(members[m["community_member_id"]] for m in memberships)
    assert joined == sorted(f"p{i}@example.com" for i in range(150) if i % 3 != 0)
