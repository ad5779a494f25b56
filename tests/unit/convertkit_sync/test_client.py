"""Kit's cursor pagination, followed to the last page (the sandbox would need 1,000+ tags)."""

from __future__ import annotations

import httpx

from services.convertkit_sync.client import KitClient


def pages(request: httpx.Request) -> httpx.Response:
    assert request.headers["X-Kit-Api-Key"] == "key"
    after = request.url.params.get("after")
    if after is None:
        tags, more = [{"id": 1, "name": "Customer"}], True
    else:
        assert after == "cursor-1"
        tags, more = [{"id": 2, "name": "churned"}], False
    pagination = {"has_next_page": more, "end_cursor": "cursor-1" if more else "cursor-2"}
    return httpx.Response(200, json={"tags": tags, "pagination": pagination})


async def test_every_page_of_tags_is_read_once() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return pages(request)

    client = KitClient(KitClient.make_http("http://kit", "key", 5, httpx.MockTransport(answer)))
    assert await client.tag_id("customer", create=False) == 1
    assert await client.tag_id("churned", create=False) == 2
    assert await client.tag_id("vip", create=False) is None  # missing, and not created
    assert len(seen) == 2  # listed once, then answered from what was read
    assert seen[0].url.params["per_page"] == "1000"
