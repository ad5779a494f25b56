"""The Circle worker's app on the in-memory broker: a customer event leads to Circle's calls and
a published sync result; its redelivery to neither."""

from __future__ import annotations

from fastapi import FastAPI

from libs.runtime.worker_app import WorkerAdapters
from services.circle_sync.main import create_app
from services.circle_sync.settings import CircleSettings
from tests.unit.runtime.worker_app_harness import FAST_RETRIES, Script, applied_version, drive, paid

API = "/api/admin/v2"
CIRCLE: Script = {
    ("GET", f"{API}/community_members/search"): (404, {"error_details": "Missing record: user"}),
    ("POST", f"{API}/community_members"): (201, {}),
    ("GET", f"{API}/access_groups"): (200, {"records": [{"id": 7, "name": "Members"}]}),
    ("POST", f"{API}/access_groups/7/community_members"): (201, {}),
}


def app(adapters: WorkerAdapters) -> FastAPI:
    return create_app(
        CircleSettings.load(env="local", circle_base_url="https://circle.test", **FAST_RETRIES),
        adapters,
    )


async def test_a_paid_customer_becomes_a_member_and_the_result_is_published() -> None:
    run = await drive(app, CIRCLE, paid(), paid())  # the second: a redelivery
    assert run.provider.calls == [
        ("POST", f"{API}/community_members"),
        ("GET", f"{API}/access_groups"),
        ("POST", f"{API}/access_groups/7/community_members"),
    ]
    assert [(r["integration"], r["outcome"], r["actions"]) for r in run.results] == [
        ("circle", "synced", ["create_member", "add_access_group:Members"]),
        ("circle", "duplicate", []),
    ]
    assert await applied_version(run) == 1
