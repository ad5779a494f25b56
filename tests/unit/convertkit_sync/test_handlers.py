"""The ConvertKit worker's app on the in-memory broker: a customer event leads to Kit's calls and
a published sync result; its redelivery to neither."""

from __future__ import annotations

from fastapi import FastAPI

from libs.runtime.worker_app import WorkerAdapters
from services.convertkit_sync.main import create_app
from services.convertkit_sync.settings import ConvertkitSettings
from tests.unit.runtime.worker_app_harness import FAST_RETRIES, Script, applied_version, drive, paid

KIT: Script = {
    ("GET", "/v4/subscribers"): (200, {"subscribers": []}),
    ("POST", "/v4/subscribers"): (201, {"subscriber": {"id": 5}}),
    ("GET", "/v4/tags"): (200, {"tags": [], "pagination": {}}),
    ("POST", "/v4/tags"): (201, {"tag": {"id": 9, "name": "customer"}}),
    ("POST", "/v4/tags/9/subscribers"): (201, {}),
}


def app(adapters: WorkerAdapters) -> FastAPI:
    return create_app(
        ConvertkitSettings.load(env="local", kit_base_url="https://kit.test", **FAST_RETRIES),
        adapters,
    )


async def test_a_paid_customer_is_subscribed_and_tagged_and_the_result_published() -> None:
    run = await drive(app, KIT, paid(), paid())  # the second: a redelivery
    assert run.provider.calls == [  # written first: no lookup
        ("POST", "/v4/subscribers"),
        ("GET", "/v4/tags"),
        ("POST", "/v4/tags"),
        ("POST", "/v4/tags/9/subscribers"),
    ]
    assert [(r["integration"], r["outcome"], r["actions"]) for r in run.results] == [
        ("convertkit", "synced", ["upsert_subscriber", "add_tag:customer"]),
        ("convertkit", "duplicate", []),
    ]
    assert await applied_version(run) == 1
