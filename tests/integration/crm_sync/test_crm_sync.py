"""The CRM sync against the sandbox's HubSpot: upsert by email, skip when in sync, the
lifecycle-stage rule, and its errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from libs.contracts import Lifecycle
from libs.runtime.errors import PermanentProviderError, ProviderAuthError, TransientProviderError
from services.crm_sync.client import HubSpotClient
from services.crm_sync.integration import CrmIntegration
from tests.conftest import unique_email
from tests.events import customer_event

from .conftest import add_fault, hubspot_state

UPSERT = "POST /crm/v3/objects/contacts/batch/upsert"


def contact(state: dict[str, Any], email: str) -> dict[str, str]:
    found = [c for c in state["contacts"] if c["properties"]["email"].lower() == email.lower()]
    assert len(found) == 1, found
    properties: dict[str, str] = found[0]["properties"]
    return properties


async def test_the_upsert_sets_the_properties(crm: CrmIntegration, sandbox: FastAPI) -> None:
    email = unique_email()
    event = customer_event(email, Lifecycle.PAID, customer_id="cus_42")
    actions = await crm.sync(event, dry_run=False)
    assert actions == [
        "upsert_contact:lifecyclestage,switchboard_customer_id,switchboard_lifecycle"
    ]
    state = await hubspot_state(sandbox)
    properties = contact(state, email)
    assert properties["lifecyclestage"] == "customer"
    assert properties["switchboard_lifecycle"] == "paid"
    assert properties["switchboard_customer_id"] == "cus_42"
    assert state["requests"] == {UPSERT: 1}


async def test_a_second_sync_makes_no_writes(
    make_crm: Callable[..., CrmIntegration], sandbox: FastAPI
) -> None:
    email = unique_email()
    await make_crm().sync(customer_event(email, Lifecycle.PAID), dry_run=False)
    actions = await make_crm().sync(customer_event(email, Lifecycle.PAID, version=2), dry_run=False)
    assert actions == []
    assert (await hubspot_state(sandbox))["requests"] == {UPSERT: 1}


async def test_a_lead_who_pays_moves_forwards_and_a_cancel_keeps_the_stage(
    crm: CrmIntegration, sandbox: FastAPI
) -> None:
    email = unique_email("plus+tag")  # a `+` must survive the path of the read by email
    await crm.sync(customer_event(email, Lifecycle.LEAD), dry_run=False)
    assert contact(await hubspot_state(sandbox), email)["lifecyclestage"] == "lead"
    paid = await crm.sync(customer_event(email, Lifecycle.PAID, version=2), dry_run=False)
    assert paid == ["upsert_contact:lifecyclestage,switchboard_lifecycle"]
    canceled = await crm.sync(customer_event(email, Lifecycle.CANCELED, version=3), dry_run=False)
    assert canceled == ["upsert_contact:switchboard_lifecycle"]
    properties = contact(await hubspot_state(sandbox), email)
    assert (properties["lifecyclestage"], properties["switchboard_lifecycle"]) == (
        "customer",
        "canceled",
    )


async def test_moving_a_managed_stage_backwards_clears_it_first(
    make_crm: Callable[..., CrmIntegration], sandbox: FastAPI, tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "crm:\n  default:\n    paid: {lifecyclestage: customer}\n"
        "    canceled: {lifecyclestage: lead}\n"
    )
    crm = make_crm(mapping_file=mapping)
    email = unique_email()
    await crm.sync(customer_event(email, Lifecycle.PAID), dry_run=False)
    actions = await crm.sync(customer_event(email, Lifecycle.CANCELED, version=2), dry_run=False)
    assert actions == [
        "clear_lifecyclestage",
        "upsert_contact:lifecyclestage,switchboard_lifecycle",
    ]
    state = await hubspot_state(sandbox)
    assert contact(state, email)["lifecyclestage"] == "lead"  # HubSpot took it after the clear
    assert state["requests"] == {UPSERT: 3}


async def test_a_stage_someone_else_set_further_on_is_left_alone(
    crm: CrmIntegration, sandbox: FastAPI
) -> None:
    email = unique_email()
    await crm.sync(customer_event(email, Lifecycle.PAID), dry_run=False)
    await crm.client.upsert_contact(email, {"lifecyclestage": "evangelist"})  # the sales team
    actions = await crm.sync(customer_event(email, Lifecycle.ACTIVE, version=2), dry_run=False)
    assert actions == ["upsert_contact:switchboard_lifecycle"]
    assert contact(await hubspot_state(sandbox), email)["lifecyclestage"] == "evangelist"


async def test_a_wrong_token_is_a_permanent_auth_error(
    make_crm: Callable[..., CrmIntegration],
) -> None:
    crm = make_crm(hubspot_token="wrong-token")
    with pytest.raises(ProviderAuthError) as caught:
        await crm.sync(customer_event(unique_email()), dry_run=False)
    assert (caught.value.status, caught.value.code, caught.value.retryable) == (401, "auth", False)


async def test_429_is_retryable_with_hubspots_retry_after(
    crm: CrmIntegration, sandbox: FastAPI
) -> None:
    await add_fault(sandbox, status=429, retry_after=3, count=1, method="POST")
    with pytest.raises(TransientProviderError) as caught:
        await crm.sync(customer_event(unique_email()), dry_run=False)
    assert (caught.value.status, caught.value.retry_after) == (429, 3.0)
    assert caught.value.action.startswith("upsert_contact:")
    assert "ten_secondly_rolling" in caught.value.message


async def test_429_without_retry_after_is_still_retryable(
    crm: CrmIntegration, sandbox: FastAPI
) -> None:
    await add_fault(sandbox, status=429, count=1)
    with pytest.raises(TransientProviderError) as caught:
        await crm.sync(customer_event(unique_email()), dry_run=False)
    assert (caught.value.status, caught.value.retry_after) == (429, None)


async def test_a_missing_custom_property_fails_permanently_naming_it(
    crm: CrmIntegration, sandbox: FastAPI
) -> None:
    sandbox.state.sandbox.hubspot.custom_properties.pop("switchboard_customer_id")
    with pytest.raises(PermanentProviderError) as caught:
        await crm.sync(customer_event(unique_email()), dry_run=False)
    assert caught.value.status == 400
    assert "switchboard_customer_id" in caught.value.message


async def test_dry_run_reads_but_writes_nothing(crm: CrmIntegration, sandbox: FastAPI) -> None:
    actions = await crm.sync(customer_event(unique_email()), dry_run=True)
    assert len(actions) == 1
    assert (await hubspot_state(sandbox))["requests"] == {}


# -- an email change -------------------------------------------------------------------------------

PATCH = "PATCH /crm/v3/objects/contacts/{id}"


def contacts_of(state: dict[str, Any], *emails: str) -> list[dict[str, Any]]:
    wanted = {e.lower() for e in emails}
    return [c for c in state["contacts"] if c["properties"]["email"].lower() in wanted]


async def test_an_email_change_moves_the_contact_in_place(
    crm: CrmIntegration, sandbox: FastAPI
) -> None:
    old, new = unique_email("old"), unique_email("new")
    await crm.sync(customer_event(old, Lifecycle.PAID), dry_run=False)
    contact_id = contacts_of(await hubspot_state(sandbox), old)[0]["id"]

    moved = customer_event(new, Lifecycle.PAID, version=2, previous_emails=(old,))
    assert await crm.sync(moved, dry_run=False) == ["change_email"]  # nothing else differs
    state = await hubspot_state(sandbox)
    found = contacts_of(state, old, new)
    assert [(c["id"], c["properties"]["email"]) for c in found] == [(contact_id, new)]
    assert found[0]["properties"]["lifecyclestage"] == "customer"
    assert state["requests"] == {UPSERT: 1, PATCH: 1}

    canceled = customer_event(new, Lifecycle.CANCELED, version=3, previous_emails=(old,))
    assert await crm.sync(canceled, dry_run=False) == ["upsert_contact:switchboard_lifecycle"]
    assert len(contacts_of(await hubspot_state(sandbox), old, new)) == 1


async def test_a_move_refused_because_the_new_address_got_a_contact_reads_again(
    make_crm: Callable[..., CrmIntegration], sandbox: FastAPI
) -> None:
    old, new = unique_email("old"), unique_email("new")
    crm = make_crm()
    await crm.sync(customer_event(old, Lifecycle.PAID), dry_run=False)

    class Racing(HubSpotClient):
        """Someone creates a contact for the new address between our read and the move."""

        async def change_email(self, previous: str, email: str) -> bool:
            await self.upsert_contact(email, {"firstname": "Jane"})
            return await super().change_email(previous, email)

    crm.client = Racing(crm.client.http.client)
    moved = customer_event(new, Lifecycle.PAID, version=2, previous_emails=(old,))
    actions = await crm.sync(moved, dry_run=False)
    assert actions == [
        "change_email",  # refused: HubSpot is read again and the rest planned from it
        "upsert_contact:lifecyclestage,switchboard_customer_id,switchboard_lifecycle",
    ]
    state = await hubspot_state(sandbox)
    assert contacts_of(state, new)[0]["properties"]["switchboard_lifecycle"] == "paid"
    assert len(contacts_of(state, old)) == 1  # HubSpot keeps it; a contact grants no access
