"""A missing or wrong credential gets each provider's real 401 body, and is counted as rejected."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.unit.sandbox.conftest import CIRCLE_TOKEN, KIT_KEY, STRIPE_KEY, ZENDESK_EMAIL, state

CIRCLE_PATH = "/circle/api/admin/v2/access_groups"
KIT_PATH = "/kit/v4/tags"
HUBSPOT_PATH = "/hubspot/crm/v3/objects/contacts/1"
ZENDESK_PATH = "/zendesk/api/v2/tickets"
STRIPE_PATH = "/stripe/v1/customers/cus_123"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("path", "headers", "body"),
    [
        (CIRCLE_PATH, {}, {"success": False, "message": "The API token is invalid."}),
        (
            CIRCLE_PATH,
            {"Authorization": "Bearer wrong"},
            {"success": False, "message": "The API token is invalid."},
        ),
        (KIT_PATH, {}, {"errors": ["The access token is invalid"]}),
        (KIT_PATH, {"X-Kit-Api-Key": "wrong"}, {"errors": ["The access token is invalid"]}),
        (ZENDESK_PATH, {}, {"error": "Couldn't authenticate you"}),
        (
            ZENDESK_PATH,
            {"Authorization": basic(f"{ZENDESK_EMAIL}/token", "wrong")},
            {"error": "Couldn't authenticate you"},
        ),
        (
            ZENDESK_PATH,
            {"Authorization": "Basic not-base64!!"},
            {"error": "Couldn't authenticate you"},
        ),
    ],
)
async def test_wrong_credential_gets_the_real_401_body(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], body: dict[str, object]
) -> None:
    response = await client.get(path, headers=headers)
    assert response.status_code == 401
    assert response.json() == body


async def test_hubspot_401_has_hubspots_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get(HUBSPOT_PATH, headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == "error"
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["message"].startswith("Authentication credentials not found")
    assert body["correlationId"]


async def test_stripe_401_masks_the_key(client: httpx.AsyncClient) -> None:
    wrong = "sk_test_abcdefghijklmnopWXYZ"
    response = await client.get(STRIPE_PATH, headers={"Authorization": f"Bearer {wrong}"})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"] == "Invalid API Key provided: sk_test_****************WXYZ"
    assert "abcdefghijklmnop" not in response.text


async def test_stripe_401_without_a_key_says_so(client: httpx.AsyncClient) -> None:
    response = await client.get(STRIPE_PATH)
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("You did not provide an API key")


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (CIRCLE_PATH, {"Authorization": f"Token {CIRCLE_TOKEN}"}),
        (CIRCLE_PATH, {"Authorization": f"bearer {CIRCLE_TOKEN}"}),
        (KIT_PATH, {"Authorization": f"Bearer {KIT_KEY}"}),
        (STRIPE_PATH, {"Authorization": basic(STRIPE_KEY, "")}),
    ],
)
async def test_alternative_auth_forms_are_accepted(
    client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    response = await client.get(path, headers=headers)
    assert response.status_code != 401


async def test_refused_requests_are_counted_apart(client: httpx.AsyncClient) -> None:
    await client.post("/kit/v4/tags", json={"name": "x"}, headers={"X-Kit-Api-Key": "wrong"})
    kit = (await state(client))["kit"]
    assert kit["rejected"] == {"POST /v4/tags": 1}
    assert kit["requests"] == {}
    assert kit["tags"] == []
