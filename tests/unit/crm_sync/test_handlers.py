"""The CRM worker's app on the in-memory broker: a customer event leads to HubSpot's calls and a
published sync result; its redelivery to neither."""

from __future__ import annotations

from fastapi import FastAPI

from libs.runtime.worker_app import WorkerAdapters
from services.crm_sync.main import create_app
from services.crm_sync.settings import CrmSettings
from tests.unit.runtime.worker_app_harness import FAST_RETRIES, Script, applied_version, drive, paid

CONTACTS = "/crm/v3/objects/contacts"
HUBSPOT: Script = {
    ("GET", f"{CONTACTS}/jane@example.com"): (404, {"message": "resource not found"}),
    ("POST", f"{CONTACTS}/batch/upsert"): (200, {"status": "COMPLETE", "results": [{"id": "1"}]}),
}


def app(adapters: WorkerAdapters) -> FastAPI:
    return create_app(
        CrmSettings.load(env="local", hubspot_base_url="https://hubspot.test", **FAST_RETRIES),
        adapters,
    )


async def test_a_paid_customer_becomes_a_customer_contact_and_the_result_is_published() -> None:
    run = await drive(app, HUBSPOT, paid(), paid())  # the second: a redelivery
    assert run.provider.calls == [
        ("POST", f"{CONTACTS}/batch/upsert"),
    ]
    actions = "upsert_contact:lifecyclestage,switchboard_customer_id,switchboard_lifecycle"
    assert [(r["integration"], r["outcome"], r["actions"]) for r in run.results] == [
        ("crm", "synced", [actions]),
        ("crm", "duplicate", []),
    ]
    assert await applied_version(run) == 1
