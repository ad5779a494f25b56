"""HubSpot answers the sandbox does not give: 207 Multi-Status per-item errors, results out of the
inputs' order or under another address, and a batch answering for fewer inputs than it got."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from libs.runtime.errors import PermanentProviderError, ProviderError, TransientProviderError
from services.crm_sync.client import HubSpotClient


def client_answering(
    status: int, body: dict[str, Any], sent: list[dict[str, Any]] | None = None
) -> HubSpotClient:
    def answer(request: httpx.Request) -> httpx.Response:
        if sent is not None:
            sent.append(json.loads(request.content))
        return httpx.Response(status, json=body)

    http = HubSpotClient.make_http("http://hubspot", "t", 5, httpx.MockTransport(answer))
    return HubSpotClient(http)


def error(category: str, message: str, *ids: str) -> dict[str, Any]:
    return {"status": "error", "category": category, "message": message, "context": {"ids": ids}}


def batch(results: list[dict[str, Any]], *errors: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results}
    return {**body, "numErrors": len(errors), "errors": list(errors)} if errors else body


def contact(contact_id: str, **properties: str | None) -> dict[str, Any]:
    return {"id": contact_id, "new": False, "archived": False, "properties": properties}


async def test_a_207_with_an_item_error_is_permanent() -> None:
    body = batch([], error("VALIDATION_ERROR", "Property values were not valid", "a@example.com"))
    client = client_answering(207, body)
    with pytest.raises(PermanentProviderError) as caught:
        await client.upsert_contact("a@example.com", {"lifecyclestage": "customer"})
    assert (caught.value.status, caught.value.code) == (207, "validation_error")
    assert caught.value.message == "Property values were not valid"


async def test_an_error_naming_no_input_is_the_one_inputs() -> None:
    body = batch([], {"status": "error", "category": "VALIDATION_ERROR", "message": "no"})
    with pytest.raises(PermanentProviderError, match="no"):
        await client_answering(207, body).upsert_contact("a@example.com", {"firstname": "A"})


async def test_a_rate_limited_item_is_retryable() -> None:
    client = client_answering(207, batch([], error("RATE_LIMITS", "slow down", "a@example.com")))
    with pytest.raises(TransientProviderError):
        await client.upsert_contact("a@example.com", {"lifecyclestage": "customer"})


async def test_a_200_answers_the_contacts_values_of_what_was_sent() -> None:
    sent: list[dict[str, Any]] = []
    result = contact("1", email="a@example.com", lifecyclestage="customer", firstname=None)
    client = client_answering(200, batch([result]), sent)
    values = await client.upsert_contact("a@example.com", {"lifecyclestage": "customer"})
    assert values == {"lifecyclestage": "customer"}
    assert sent == [
        {
            "inputs": [
                {
                    "idProperty": "email",
                    "id": "a@example.com",
                    "properties": {"lifecyclestage": "customer"},
                }
            ]
        }
    ]


async def test_results_are_matched_by_email_whatever_their_order_or_case() -> None:
    results = [
        contact("2", email="b@example.com", lifecyclestage="customer"),
        contact("1", email="a@example.com", lifecyclestage="lead", firstname="Ann"),
    ]
    client = client_answering(200, batch(results))
    answers = await client.upsert_contacts(
        [
            ("A@Example.com", {"lifecyclestage": "lead", "firstname": "Ann", "lastname": "X"}),
            ("b@example.com", {"lifecyclestage": "customer"}),
        ]
    )
    assert answers == [
        {"lifecyclestage": "lead", "firstname": "Ann", "lastname": ""},
        {"lifecyclestage": "customer"},
    ]


async def test_a_207_answers_each_input_on_its_own() -> None:
    body = batch(
        [contact("1", email="a@example.com", firstname="A")],
        error(
            "VALIDATION_ERROR",
            "lifecyclestage: nope was not one of the allowed options",
            "b@example.com",
        ),
        error("RATE_LIMITS", "slow down", "C@EXAMPLE.COM"),
    )
    client = client_answering(207, body)
    a, b, c, d = await client.upsert_contacts(
        [
            ("a@example.com", {"firstname": "A"}),
            ("b@example.com", {"lifecyclestage": "nope"}),
            ("c@example.com", {"firstname": "C"}),
            ("d@example.com", {"firstname": "D"}),
        ]
    )
    assert a == {"firstname": "A"}
    assert isinstance(b, PermanentProviderError)
    assert "allowed options" in b.message
    assert isinstance(c, TransientProviderError)
    assert c.code == "rate_limits"
    # neither in the results nor in the errors
    assert isinstance(d, PermanentProviderError)
    assert d.message == "the upsert returned no contact"


async def test_a_result_under_another_address_is_the_one_left_inputs() -> None:
    # the contact was found by a secondary address: its `email` is the primary one
    body = batch([contact("1", email="primary@example.com", firstname="A")])
    client = client_answering(200, body)
    assert await client.upsert_contact("second@example.com", {"firstname": "A"}) == {
        "firstname": "A"
    }


async def test_an_empty_batch_answers_each_input_with_an_error() -> None:
    client = client_answering(200, batch([]))
    answers = await client.upsert_contacts([("a@example.com", {}), ("b@example.com", {})])
    assert all(isinstance(a, ProviderError) for a in answers)
    with pytest.raises(PermanentProviderError, match="returned no contact"):
        await client.upsert_contact("a@example.com", {"firstname": "A"})


async def test_a_contact_sent_no_properties_is_answered_with_none() -> None:
    client = client_answering(200, batch([contact("1", email="a@example.com")]))
    assert await client.upsert_contacts([("a@example.com", {})]) == [{}]


async def test_a_whole_call_failure_raises() -> None:
    client = client_answering(429, {"status": "error", "category": "RATE_LIMITS", "message": "x"})
    with pytest.raises(TransientProviderError):
        await client.upsert_contacts([("a@example.com", {}), ("b@example.com", {})])


async def test_one_email_twice_or_too_many_inputs_is_a_programming_error() -> None:
    client = client_answering(200, batch([]))
    with pytest.raises(ValueError, match="same email"):
        await client.upsert_contacts([("a@example.com", {}), ("A@example.com", {})])
    with pytest.raises(ValueError, match="at most 100"):
        await client.upsert_contacts([(f"{i}@example.com", {}) for i in range(101)])
    assert await client.upsert_contacts([]) == []
