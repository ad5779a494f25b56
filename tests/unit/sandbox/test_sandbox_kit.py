from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi import FastAPI

from sandbox.kit.store import KitStore
from tests.unit.sandbox.conftest import KIT, client_for, state


async def subscribe(client: httpx.AsyncClient, email: str, **extra: object) -> httpx.Response:
    body = {"email_address": email, **extra}
    return await client.post("/kit/v4/subscribers", json=body, headers=KIT)


async def make_tag(client: httpx.AsyncClient, name: str) -> int:
    response = await client.post("/kit/v4/tags", json={"name": name}, headers=KIT)
    assert response.status_code in (200, 201)
    return int(response.json()["tag"]["id"])


async def test_upsert_is_201_then_200(client: httpx.AsyncClient) -> None:
    first = await subscribe(client, "jane@example.com", first_name="Jane")
    assert first.status_code == 201
    again = await subscribe(client, "JANE@example.com", first_name="Janet")
    assert again.status_code == 200
    assert again.json()["subscriber"]["id"] == first.json()["subscriber"]["id"]
    assert again.json()["subscriber"]["first_name"] == "Janet"


async def test_reposting_a_cancelled_subscriber_does_not_resubscribe(
    client: httpx.AsyncClient,
) -> None:
    sid = (await subscribe(client, "jane@example.com")).json()["subscriber"]["id"]
    unsubscribed = await client.post(f"/kit/v4/subscribers/{sid}/unsubscribe", headers=KIT)
    assert unsubscribed.status_code == 204
    again = await subscribe(client, "jane@example.com", state="active")
    assert again.status_code == 200
    assert again.json()["subscriber"]["state"] == "cancelled"


async def test_list_by_email_hides_cancelled_unless_status_all(client: httpx.AsyncClient) -> None:
    sid = (await subscribe(client, "jane@example.com")).json()["subscriber"]["id"]
    await client.post(f"/kit/v4/subscribers/{sid}/unsubscribe", headers=KIT)
    default = await client.get(
        "/kit/v4/subscribers", params={"email_address": "jane@example.com"}, headers=KIT
    )
    assert default.json()["subscribers"] == []
    everyone = await client.get(
        "/kit/v4/subscribers",
        params={"email_address": "jane@example.com", "status": "all"},
        headers=KIT,
    )
    assert [s["id"] for s in everyone.json()["subscribers"]] == [sid]


async def test_tag_create_is_idempotent_on_name(client: httpx.AsyncClient) -> None:
    created = await client.post("/kit/v4/tags", json={"name": "customer"}, headers=KIT)
    assert created.status_code == 201
    again = await client.post("/kit/v4/tags", json={"name": "Customer"}, headers=KIT)
    assert again.status_code == 200
    assert again.json()["tag"]["id"] == created.json()["tag"]["id"]
    blank = await client.post("/kit/v4/tags", json={"name": " "}, headers=KIT)
    assert blank.status_code == 422


async def test_tagging_is_201_then_200(client: httpx.AsyncClient) -> None:
    await subscribe(client, "jane@example.com")
    tag = await make_tag(client, "customer")
    path = f"/kit/v4/tags/{tag}/subscribers"
    first = await client.post(path, json={"email_address": "jane@example.com"}, headers=KIT)
    assert first.status_code == 201
    assert first.json()["subscriber"]["tagged_at"]
    again = await client.post(path, json={"email_address": "jane@example.com"}, headers=KIT)
    assert again.status_code == 200
    kit = (await state(client))["kit"]
    assert kit["subscribers"][0]["tags"] == ["customer"]
    assert kit["requests"]["POST /v4/tags/{tag_id}/subscribers"] == 2


async def test_tagging_needs_an_existing_subscriber_and_tag(client: httpx.AsyncClient) -> None:
    tag = await make_tag(client, "customer")
    no_subscriber = await client.post(
        f"/kit/v4/tags/{tag}/subscribers", json={"email_address": "nobody@example.com"}, headers=KIT
    )
    assert no_subscriber.status_code == 404
    assert no_subscriber.json() == {"errors": ["Not Found"]}
    await subscribe(client, "jane@example.com")
    no_tag = await client.post(
        "/kit/v4/tags/999/subscribers", json={"email_address": "jane@example.com"}, headers=KIT
    )
    assert no_tag.status_code == 404


async def test_untag_by_email_then_404(client: httpx.AsyncClient) -> None:
    await subscribe(client, "jane@example.com")
    tag = await make_tag(client, "customer")
    path = f"/kit/v4/tags/{tag}/subscribers"
    await client.post(path, json={"email_address": "jane@example.com"}, headers=KIT)
    removed = await client.delete(path, params={"email_address": "jane@example.com"}, headers=KIT)
    assert removed.status_code == 204
    again = await client.delete(path, params={"email_address": "jane@example.com"}, headers=KIT)
    assert again.status_code == 404
    assert (await state(client))["kit"]["subscribers"][0]["tags"] == []


async def test_tag_and_untag_by_id(client: httpx.AsyncClient) -> None:
    sid = (await subscribe(client, "jane@example.com")).json()["subscriber"]["id"]
    tag = await make_tag(client, "customer")
    tagged = await client.post(f"/kit/v4/tags/{tag}/subscribers/{sid}", json={}, headers=KIT)
    assert tagged.status_code == 201
    removed = await client.delete(f"/kit/v4/tags/{tag}/subscribers/{sid}", headers=KIT)
    assert removed.status_code == 204


async def test_over_the_limit_is_plain_text_429_without_retry_after(
    app_factory: Callable[..., FastAPI],
) -> None:
    async with client_for(app_factory(sandbox_kit_rate_limit=3)) as client:
        for _ in range(3):
            assert (await client.get("/kit/v4/tags", headers=KIT)).status_code == 200
        limited = await client.get("/kit/v4/tags", headers=KIT)
        assert limited.status_code == 429
        assert limited.text.strip() == "Retry later"
        assert limited.headers["content-type"].startswith("text/plain")
        assert "retry-after" not in limited.headers
        assert (await state(client))["kit"]["rejected"] == {"GET /v4/tags": 1}


async def test_invalid_email_is_422(client: httpx.AsyncClient) -> None:
    response = await subscribe(client, "not-an-email")
    assert response.status_code == 422
    assert response.json() == {"errors": ["Email address is invalid"]}


async def test_tags_of_a_subscriber_by_id(client: httpx.AsyncClient) -> None:
    sid = (await subscribe(client, "jane@example.com")).json()["subscriber"]["id"]
    customer, _ = await make_tag(client, "customer"), await make_tag(client, "vip")
    await client.post(
        f"/kit/v4/tags/{customer}/subscribers",
        json={"email_address": "jane@example.com"},
        headers=KIT,
    )
    listed = await client.get(f"/kit/v4/subscribers/{sid}/tags", headers=KIT)
    assert listed.status_code == 200
    body = listed.json()
    assert [(t["id"], t["name"]) for t in body["tags"]] == [(customer, "customer")]
    assert body["tags"][0]["tagged_at"]
    assert body["pagination"]["has_next_page"] is False
    unknown = await client.get("/kit/v4/subscribers/999/tags", headers=KIT)
    assert unknown.status_code == 404
    assert unknown.json() == {"errors": ["Not Found"]}


async def test_update_changes_the_email_in_place_and_keeps_the_tags(
    client: httpx.AsyncClient,
) -> None:
    sid = (await subscribe(client, "old@example.com")).json()["subscriber"]["id"]
    tag = await make_tag(client, "customer")
    await client.post(f"/kit/v4/tags/{tag}/subscribers/{sid}", json={}, headers=KIT)
    updated = await client.put(
        f"/kit/v4/subscribers/{sid}", json={"email_address": "new@example.com"}, headers=KIT
    )
    assert updated.status_code == 200
    assert updated.json()["subscriber"]["id"] == sid
    assert updated.json()["subscriber"]["email_address"] == "new@example.com"
    found = await client.get(
        "/kit/v4/subscribers", params={"email_address": "new@example.com"}, headers=KIT
    )
    assert [s["id"] for s in found.json()["subscribers"]] == [sid]
    gone = await client.get(
        "/kit/v4/subscribers", params={"email_address": "old@example.com"}, headers=KIT
    )
    assert gone.json()["subscribers"] == []
    tags = await client.get(f"/kit/v4/subscribers/{sid}/tags", headers=KIT)
    assert [t["name"] for t in tags.json()["tags"]] == ["customer"]
    assert (await state(client))["kit"]["requests"]["PUT /v4/subscribers/{id}"] == 1


async def test_update_to_another_subscribers_email_is_422_taken(
    client: httpx.AsyncClient,
) -> None:
    sid = (await subscribe(client, "old@example.com")).json()["subscriber"]["id"]
    await subscribe(client, "new@example.com")
    taken = await client.put(
        f"/kit/v4/subscribers/{sid}", json={"email_address": "NEW@example.com"}, headers=KIT
    )
    assert taken.status_code == 422
    assert taken.json() == {"errors": ["Email address has already been taken"]}
    # The subscriber's own address, in any case, is no conflict.
    own = await client.put(
        f"/kit/v4/subscribers/{sid}", json={"email_address": "Old@example.com"}, headers=KIT
    )
    assert own.status_code == 200


async def test_update_of_an_unknown_id_is_404_and_a_bad_email_422(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.put(
        "/kit/v4/subscribers/999", json={"email_address": "a@example.com"}, headers=KIT
    )
    assert missing.status_code == 404
    sid = (await subscribe(client, "old@example.com")).json()["subscriber"]["id"]
    bad = await client.put(
        f"/kit/v4/subscribers/{sid}", json={"email_address": "not-an-email"}, headers=KIT
    )
    assert bad.status_code == 422


async def test_tag_subscribers_pages_over_1000_with_status_all(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # Seeded in the store: 2,000 API calls would take the 120-a-minute limit 17 minutes.
    kit = app.state.sandbox.kit
    tag, _ = kit.create_tag("customer")
    tagged: list[int] = []
    for i in range(1_205):
        subscriber, _ = kit.upsert(f"p{i}@example.com", None, "active", {})
        if i % 12 != 0:  # every twelfth one carries no tag
            kit.apply_tag(tag.id, subscriber_id=subscriber.id)
            tagged.append(subscriber.id)
    for cancelled in tagged[::100]:
        kit.unsubscribe(cancelled)

    async def walk(status: str | None) -> tuple[list[int], int]:
        seen: list[int] = []
        pages = 0
        params = {"per_page": "1000"} | ({"status": status} if status else {})
        while True:
            response = await client.get(
                f"/kit/v4/tags/{tag.id}/subscribers", params=params, headers=KIT
            )
            assert response.status_code == 200
            body = response.json()
            pages += 1
            seen.extend(s["id"] for s in body["subscribers"])
            assert all("tagged_at" in s for s in body["subscribers"])
            if not body["pagination"]["has_next_page"]:
                return seen, pages
            params["after"] = body["pagination"]["end_cursor"]

    everyone, pages = await walk("all")
    assert (everyone, pages) == (tagged, 2)
    active, _ = await walk(None)  # Kit's default is active only
    assert active == [s for s in tagged if s not in tagged[::100]]
    cancelled, _ = await walk("cancelled")
    assert cancelled == tagged[::100]


def test_seeded_tags_exist_from_the_start_and_stay_on_reset_with_no_one_tagged() -> None:
    store = KitStore(seeded_tags=("customer", "Churned"))
    assert sorted(t.name for t in store.tags.values()) == ["Churned", "customer"]
    subscriber, _ = store.upsert("seeded@example.com", None, "active", {})
    customer = next(t for t in store.tags.values() if t.name == "customer")
    store.apply_tag(customer.id, subscriber_id=subscriber.id)
    store.create_tag("newsletter")
    store.reset()
    assert sorted(t.name for t in store.tags.values()) == ["Churned", "customer"]
    assert all(not t.tagged for t in store.tags.values())
    assert KitStore().tags == {}  # none unless asked for
