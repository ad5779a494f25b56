"""HubSpot answers the sandbox does not give for one input: 207 Multi-Status per-item errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from libs.runtime.errors import PermanentProviderError, TransientProviderError
from services.crm_sync.client import HubSpotClient


def client_answering(status: int, body: dict[str, Any]) -> HubSpotClient:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    http = HubSpotClient.make_http("http://hubspot", "t", 5, httpx.MockTransport(answer))
    return HubSpotClient(http)


def item(category: str, message: str) -> dict[str, Any]:
    return {
        "status": "COMPLETE",
        "results": [],
        "numErrors": 1,
        "errors": [{"status": "error", "category": category, "message": message}],
    }


async def test_a_207_with_an_item_error_is_permanent() -> None:
    client = client_answering(207, item("VALIDATION_ERROR", "Property values were not valid"))
    with pytest.raises(PermanentProviderError) as caught:
        await client.upsert_contact("a@example.com", {"lifecyclestage": "customer"})
    assert (caught.value.status, caught.value.code) == (207, "validation_error")
    assert caught.value.message == "Property values were not valid"


async def test_a_rate_limited_item_is_retryable() -> None:
    client = client_answering(207, item("RATE_LIMITS", "slow down"))
    with pytest.raises(TransientProviderError):
        await client.upsert_contact("a@example.com", {"lifecyclestage": "customer"})


async def test_a_200_with_the_contact_is_done() -> None:
    client = client_answering(200, {"status": "COMPLETE", "results": [{"id": "1", "new": True}]})
    await client.upsert_contact("a@example.com", {"lifecyclestage": "customer"})
