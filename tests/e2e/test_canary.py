"""The canary on the whole system: `switchboard canary` as the CronJob runs it buys the canary
product through ingest's webhook endpoint, waits until Circle, Kit and HubSpot synced it,
refunds it and waits until access is gone. The mapping routes it to the `Canary` group and the
`canary` tag only (never `Members`, `customer` or `churned`, so no real automation fires), and
support's /metrics shows the run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from libs.runtime.local_defaults import LOCAL_DEFAULTS

from . import conftest
from .conftest import System, circle_member, wait_for
from .test_all_integrations import crm_lifecycle, kit_tags
from .test_provider_costs import PROVIDERS, quiet

pytestmark = pytest.mark.e2e

SWITCHBOARD = Path(sys.executable).parent / "switchboard"
ADMIN = {"Authorization": f"Bearer {LOCAL_DEFAULTS['SWITCHBOARD_ADMIN_TOKENS']}"}
STEPS = ["purchase", "access granted", "refund", "access removed"]


def canary(system: System, *args: str) -> tuple[int, dict[str, Any], str]:
    env = {
        **system.env,
        "SWITCHBOARD_INGEST_URL": system.ingest,
        "SWITCHBOARD_SUPPORT_URL": system.support,
        "SWITCHBOARD_CANARY_POLL_SECONDS": "0.5",
    }
    done = subprocess.run(
        [str(SWITCHBOARD), "canary", "--json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-3000:]
    return done.returncode, json.loads(lines[-1]), done.stderr


def support_metrics(system: System) -> str:
    # /metrics may have a listener of its own (SWITCHBOARD_METRICS_PORT)
    where = getattr(conftest, "metrics_url", None)
    url = where("support") if where else f"{system.support}/metrics"
    response = httpx.get(url, timeout=10)
    response.raise_for_status()
    return response.text


def sample(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return None


def customer_page(system: System, email: str) -> dict[str, Any]:
    found = httpx.get(
        f"{system.support}/api/customers", params={"q": email}, headers=ADMIN, timeout=10
    ).json()["customers"]
    (customer,) = [c for c in found if c["email"] == email]
    page = httpx.get(
        f"{system.support}/api/customers/{customer['customer_id']}", headers=ADMIN, timeout=10
    )
    page.raise_for_status()
    return dict(page.json())


def test_the_canary_buys_syncs_refunds_and_leaves_nothing_behind(system: System) -> None:
    code, answer, stderr = canary(system)
    assert code == 0, stderr[-3000:]
    assert answer["ok"] is True
    assert answer["recorded"] is True
    assert [s["name"] for s in answer["steps"]] == STEPS
    assert all(s["result"] == "ok" for s in answer["steps"]), answer
    assert answer["seconds"] > 0
    email = answer["email"]
    assert email == "canary@canary.switchboard.invalid"

    # access is gone everywhere, and was only ever the canary's own
    member = circle_member(system.state(), email)
    assert member is not None  # the journey did reach Circle
    assert member["access_groups"] == []
    assert kit_tags(system, email) in ([], None)
    assert crm_lifecycle(system, email) == ("lead", "canceled")
    page = customer_page(system, email)
    assert page["customer"]["lifecycle"] == "canceled"
    assert page["customer"]["products"] == ["prod_switchboard_canary"]
    assert {v["status"] for v in page["integrations"].values()} == {"synced"}
    done = [
        item["summary"]
        for event in page["timeline"]
        for item in event["items"]
        if item.get("kind") == "sync"
    ]
    said = " ".join(done)
    assert "Canary" in said, done
    assert "canary" in said.replace("Canary", ""), done
    for real in ("Members", ":customer", ":churned"):
        assert real not in said, (real, done)

    # support exports the run once it has read it (every 15 s)
    def succeeded() -> bool:
        text = support_metrics(system)
        return sample(text, "switchboard_canary_success") == 1.0

    wait_for(succeeded, 45, "switchboard_canary_success 1 on support's /metrics")
    text = support_metrics(system)
    assert sample(text, "switchboard_canary_consecutive_failures") == 0.0
    duration = sample(text, "switchboard_canary_duration_seconds")
    assert duration is not None
    assert duration > 0
    assert (sample(text, "switchboard_canary_last_run_timestamp_seconds") or 0) > 0


def test_every_run_is_the_same_customer_and_costs_only_the_grant_and_the_revoke(
    system: System,
) -> None:
    code, first, stderr = canary(system)
    assert code == 0, stderr[-3000:]
    before = quiet(system)
    code, second, stderr = canary(system)
    assert code == 0, stderr[-3000:]
    after = quiet(system)
    spent = {p: after[p] - before[p] for p in PROVIDERS}
    print(f"one canary run of a known customer costs {spent}")
    # one customer for every run: nothing piles up at the providers
    assert second["email"] == first["email"]
    state = system.state()
    members = [m for m in state["circle"]["members"] if m["email"] == first["email"]]
    assert len(members) == 1
    found = httpx.get(
        f"{system.support}/api/customers", params={"q": first["email"]}, headers=ADMIN, timeout=10
    ).json()["customers"]
    assert [c["email"] for c in found] == [first["email"]]
    # Circle's monthly quota is small: the grant and the revoke, nothing else
    assert spent["circle"] == 2, spent
    assert spent["kit"] == 2, spent  # tag `canary`, untag it
    assert spent["hubspot"] <= 3, spent  # paid, active, canceled (concurrent ones share a batch)


def test_a_run_after_a_failed_one_heals_the_canary(system: System) -> None:
    # Circle fails the grant for good: the run fails at "access granted", with access left
    # half granted and a failure on the status
    system.fault(provider="circle", status=503)
    try:
        code, failed, _ = canary(system, "--timeout", "90")
    finally:
        system.clear_faults()
    assert code == 1
    steps = {s["name"]: s for s in failed["steps"]}
    assert steps["access granted"]["result"] == "failed", failed
    assert "circle failed" in steps["access granted"]["detail"]
    assert steps["refund"]["result"] == "skipped"

    # the next run refunds what the failed one left, then goes all the way through
    code, healed, stderr = canary(system)
    assert code == 0, stderr[-3000:]
    assert "refunded that first" in healed["steps"][0]["detail"], healed
    page = customer_page(system, healed["email"])
    assert page["customer"]["lifecycle"] == "canceled"
    assert {v["status"] for v in page["integrations"].values()} == {"synced"}
