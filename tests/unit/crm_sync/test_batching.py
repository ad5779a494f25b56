"""ContactUpserts against the sandbox's HubSpot in-process: many customers' upserts share batch
calls, and a 207 fails only the customer whose input HubSpot refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from libs.runtime.errors import PermanentProviderError, TransientProviderError
from sandbox.app import create_app
from services.crm_sync.batching import ContactUpserts
from services.crm_sync.client import UPSERT, HubSpotClient
from tests.unit.sandbox.conftest import HUBSPOT_TOKEN, make_settings

UPSERTS = f"POST {UPSERT}"


@pytest.fixture
def sandbox() -> FastAPI:
    return create_app(
        make_settings(), ingest_transport=httpx.MockTransport(lambda _: httpx.Response(200))
    )


@pytest.fixture
async def client(sandbox: FastAPI) -> AsyncIterator[HubSpotClient]:
    transport = httpx.ASGITransport(app=sandbox)
    http = HubSpotClient.make_http("http://sandbox/hubspot", HUBSPOT_TOKEN, 5, transport)
    async with http:
        yield HubSpotClient(http)


async def control(sandbox: FastAPI, method: str, path: str, **kwargs: Any) -> Any:
    """The sandbox's test-control API (`/_sandbox/...`): its JSON answer."""
    transport = httpx.ASGITransport(app=sandbox)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        response = await http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()


async def hubspot(sandbox: FastAPI) -> Any:
    """The sandbox's HubSpot: its contacts and the calls that reached it, by endpoint."""
    return (await control(sandbox, "GET", "/_sandbox/state"))["hubspot"]


def email(i: int) -> str:
    return f"customer{i}@example.com"


async def test_150_customers_cost_two_calls_and_all_exist(
    sandbox: FastAPI, client: HubSpotClient
) -> None:
    upserts = ContactUpserts(client, max_items=100, max_wait=0.05)
    answers = await asyncio.gather(
        *(
            upserts.upsert(email(i), {"lifecyclestage": "customer", "firstname": f"C{i}"})
            for i in range(150)
        )
    )
    await upserts.aclose()
    assert answers == [{"lifecyclestage": "customer", "firstname": f"C{i}"} for i in range(150)]
    state = await hubspot(sandbox)
    assert state["requests"] == {UPSERTS: 2}
    contacts = {c["properties"]["email"]: c["properties"] for c in state["contacts"]}
    assert len(contacts) == 150
    for i in range(150):
        assert contacts[email(i)]["lifecyclestage"] == "customer"
        assert contacts[email(i)]["firstname"] == f"C{i}"


async def test_an_invalid_input_fails_only_its_customer(
    sandbox: FastAPI, client: HubSpotClient
) -> None:
    upserts = ContactUpserts(client, max_items=100, max_wait=0.05)
    sent = {
        email(1): {"lifecyclestage": "customer"},
        email(2): {"lifecyclestage": "not-a-stage"},  # not one of the allowed options
        email(3): {"no_such_property": "x"},  # the account has no such property
        email(4): {"lifecyclestage": "lead", "switchboard_lifecycle": "active"},
    }
    answers = await asyncio.gather(
        *(upserts.upsert(address, properties) for address, properties in sent.items()),
        return_exceptions=True,
    )
    await upserts.aclose()
    assert answers[0] == {"lifecyclestage": "customer"}
    assert answers[3] == {"lifecyclestage": "lead", "switchboard_lifecycle": "active"}
    assert isinstance(answers[1], PermanentProviderError)
    assert (answers[1].status, answers[1].code) == (207, "validation_error")
    assert "allowed options" in answers[1].message
    assert isinstance(answers[2], PermanentProviderError)
    assert "does not exist" in answers[2].message
    state = await hubspot(sandbox)
    assert state["requests"] == {UPSERTS: 1}
    assert sorted(c["properties"]["email"] for c in state["contacts"]) == [email(1), email(4)]


async def test_a_refused_call_fails_every_customer_of_the_batch(
    sandbox: FastAPI, client: HubSpotClient
) -> None:
    fault = {"provider": "hubspot", "status": 503, "count": 1}
    await control(sandbox, "POST", "/_sandbox/faults", json=fault)
    upserts = ContactUpserts(client, max_items=100, max_wait=0.05)
    answers = await asyncio.gather(
        *(upserts.upsert(email(i), {"firstname": "A"}) for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(a, TransientProviderError) and a.status == 503 for a in answers)
    # the next batch goes through
    assert await upserts.upsert(email(0), {"firstname": "A"}) == {"firstname": "A"}
    await upserts.aclose()


async def test_an_address_shared_by_two_customers_goes_in_a_second_call(
    sandbox: FastAPI, client: HubSpotClient
) -> None:
    upserts = ContactUpserts(client, max_items=100, max_wait=0.05)
    answers = await asyncio.gather(
        upserts.upsert("shared@example.com", {"firstname": "First"}),
        upserts.upsert(email(1), {"firstname": "Other"}),
        upserts.upsert("SHARED@example.com", {"lastname": "Second"}),
    )
    await upserts.aclose()
    assert list(answers) == [{"firstname": "First"}, {"firstname": "Other"}, {"lastname": "Second"}]
    state = await hubspot(sandbox)
    assert state["requests"] == {UPSERTS: 2}
    [shared] = [c for c in state["contacts"] if c["properties"]["email"] == "shared@example.com"]
    assert (shared["properties"]["firstname"], shared["properties"]["lastname"]) == (
        "First",
        "Second",
    )


class RefusesBatches(HubSpotClient):
    """A HubSpot that answers a batch holding one bad input with a 400 for the whole call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def upsert_contacts(self, inputs: Any) -> Any:
        emails = [email for email, _ in inputs]
        self.calls.append(emails)
        if "bad@example.com" in emails and len(emails) > 1:
            raise PermanentProviderError("crm", "Property values were not valid", status=400)
        if emails == ["bad@example.com"]:
            return [PermanentProviderError("crm", "Property values were not valid", status=400)]
        return [{"lifecyclestage": "customer"} for _ in emails]


async def test_a_whole_batch_refused_for_one_input_is_sent_again_one_by_one() -> None:
    client = RefusesBatches()
    upserts = ContactUpserts(client, max_items=10, max_wait=0.05)
    emails = ["a@example.com", "bad@example.com", "c@example.com"]
    answers = await asyncio.gather(
        *(upserts.upsert(e, {"lifecyclestage": "customer"}) for e in emails),
        return_exceptions=True,
    )
    assert answers[0] == {"lifecyclestage": "customer"}
    assert isinstance(answers[1], PermanentProviderError)
    assert answers[2] == {"lifecyclestage": "customer"}
    assert client.calls[0] == emails  # one batch first; then each alone
    assert sorted(client.calls[1:]) == [[e] for e in sorted(emails)]
