"""HubSpot against the ledger: a contact never seen is upserted outright (one call, no read), the
answer's values go into the ledger, and a later stage someone else set is kept, not fought."""

from __future__ import annotations

from fastapi import FastAPI

from libs.contracts import Lifecycle
from libs.runtime.ledger import Ledger
from services.crm_sync.integration import CrmIntegration
from tests.conftest import unique_email
from tests.events import customer_event

from .conftest import hubspot_state
from .test_crm_sync import contacts_of


async def test_a_new_customer_costs_one_upsert_and_the_follow_up_none(
    crm: CrmIntegration, sandbox: FastAPI
) -> None:
    email, ledger = unique_email(), Ledger()
    before = (await hubspot_state(sandbox))["calls"]
    await crm.sync(customer_event(email), dry_run=False, ledger=ledger)
    middle = (await hubspot_state(sandbox))["calls"]
    assert middle - before == 1
    assert ledger.state["email"] == email
    assert ledger.state["properties"]["lifecyclestage"] == "customer"
    active = customer_event(email, Lifecycle.ACTIVE, version=2)
    assert await crm.sync(active, dry_run=False, ledger=ledger) == [
        "upsert_contact:switchboard_lifecycle"
    ]
    assert (await hubspot_state(sandbox))["calls"] - middle == 1


async def test_a_later_stage_set_by_sales_is_kept_and_remembered(
    crm: CrmIntegration, sandbox: FastAPI
) -> None:
    email, ledger = unique_email(), Ledger()
    await crm.client.upsert_contact(email, {"lifecyclestage": "evangelist"})
    await crm.sync(customer_event(email), dry_run=False, ledger=ledger)
    [contact] = contacts_of(await hubspot_state(sandbox), email)
    assert contact["properties"]["lifecyclestage"] == "evangelist"  # HubSpot kept it
    assert ledger.state["properties"]["lifecyclestage"] == "evangelist"  # and the ledger knows
    before = (await hubspot_state(sandbox))["calls"]
    again = customer_event(email, Lifecycle.PAID, version=2, customer_id="cus_other")
    await crm.sync(again, dry_run=False, ledger=ledger)
    # only the property that changed is written; the stage is not tried again
    assert (await hubspot_state(sandbox))["calls"] - before == 1
