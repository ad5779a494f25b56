"""Reconcile on the whole system: drift made by hand through the providers' APIs — a paying
member removed from `Members`, the Kit tag `customer` removed, a HubSpot stage set back to
`lead`, a paying customer tagged `churned`, `Members` granted to a refunded customer, an unknown
address added to `Members` — is all found by one `switchboard reconcile`, repaired (but the
unknown person, reported) through repair steps that spend only the calls the repairs need, and
a second run finds nothing to repair. The console's Reconcile page shows the last sweeps."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from libs.runtime.local_defaults import LOCAL_DEFAULTS
from tests.conftest import unique_email

from .conftest import System, circle_member, wait_for
from .drift_by_hand import ByHand
from .test_all_integrations import crm_lifecycle, kit_tags
from .test_provider_costs import PROVIDERS, purchase, purchased, quiet

pytestmark = pytest.mark.e2e

SWITCHBOARD = Path(sys.executable).parent / "switchboard"
ADMIN = {"Authorization": f"Bearer {LOCAL_DEFAULTS['SWITCHBOARD_ADMIN_TOKENS']}"}


def reconcile(system: System, *args: str) -> dict[str, Any]:
    """Run the command as an operator would; its last stdout line is the JSON summary."""
    done = subprocess.run(
        [str(SWITCHBOARD), "reconcile", "--json", *args],
        env=system.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def groups(system: System, email: str) -> list[str]:
    return list((circle_member(system.state(), email) or {}).get("access_groups", []))


def last_sweeps(system: System) -> dict[str, Any]:
    response = httpx.get(f"{system.support}/api/reconcile", headers=ADMIN, timeout=10)
    response.raise_for_status()
    found: dict[str, Any] = response.json()["integrations"]
    return found


def test_one_reconcile_finds_every_drift_repairs_it_and_a_second_finds_nothing(
    system: System,
) -> None:
    removed, untagged, staged, churned, refunded = (
        unique_email(tag) for tag in ("removed", "untagged", "staged", "churned", "refunded")
    )
    ids = dict(
        zip(
            [removed, untagged, staged, churned, refunded],
            purchase(system, [removed, untagged, staged, churned, refunded]),
            strict=True,
        )
    )
    everyone = list(ids)
    wait_for(lambda: all(purchased(system, e) for e in everyone), 120, "the purchases")
    system.trigger("refund", customer=ids[refunded], created=int(time.time()) + 1)
    wait_for(lambda: kit_tags(system, refunded) == ["churned"], 60, "the refund")
    wait_for(lambda: not groups(system, refunded), 60, "the refund's revoke")

    stranger = unique_email("friend")
    hand = ByHand(system.sandbox)
    try:
        hand.circle_revoke("Members", removed)
        hand.kit_untag("customer", untagged)
        hand.hubspot_stage(staged, "lead")
        hand.kit_tag("churned", churned)
        hand.circle_grant("Members", refunded)
        hand.circle_grant("Members", stranger)
    finally:
        hand.close()

    before = quiet(system)
    first = reconcile(system)
    assert set(first) == {"circle", "convertkit", "crm"}
    sweeps = last_sweeps(system)
    mine = {
        name: {f["email"]: f for f in sweep["findings"] if f["email"] in {*everyone, stranger}}
        for name, sweep in sweeps.items()
    }
    assert {e: f["kinds"] for e, f in mine["circle"].items()} == {
        removed: ["missing_access"],
        refunded: ["extra_access"],
        stranger: ["unknown_person"],
    }
    assert {e: f["kinds"] for e, f in mine["convertkit"].items()} == {
        untagged: ["stale_tag"],
        churned: ["stale_tag"],
    }
    assert {e: f["kinds"] for e, f in mine["crm"].items()} == {staged: ["wrong_stage"]}
    assert mine["circle"][stranger]["outcome"] == "reported"
    assert all(
        f["outcome"] == "repaired" for name in mine for e, f in mine[name].items() if e != stranger
    )
    for name, summary in first.items():
        assert summary["found"] == sweeps[name]["summary"]["found"]
        assert summary["calls"] >= 1

    # the repairs land, and cost only their own calls beside the sweeps' pages
    wait_for(
        lambda: (
            groups(system, removed) == ["Members"]
            and not groups(system, refunded)
            and kit_tags(system, untagged) == ["customer"]
            and kit_tags(system, churned) == ["customer"]
            and crm_lifecycle(system, staged) == ("customer", "active")
        ),
        60,
        "the repairs",
    )
    assert groups(system, stranger) == ["Members"]  # reported, not removed
    after = quiet(system)
    pages = {
        "circle": first["circle"]["calls"],
        "kit": first["convertkit"]["calls"],
        "hubspot": first["crm"]["calls"],
    }
    repairs = {
        provider: sum(
            len(f["actions"])
            for f in sweeps[name]["findings"]
            if f["outcome"] == "repaired" and "unknown_person" not in f["kinds"]
        )
        for provider, name in (("circle", "circle"), ("kit", "convertkit"), ("hubspot", "crm"))
    }
    for provider in PROVIDERS:
        assert after[provider] - before[provider] == pages[provider] + repairs[provider], provider

    second = reconcile(system)
    for name, summary in second.items():
        assert summary["repaired"] == 0, name
    again = last_sweeps(system)
    assert [
        (f["email"], f["kinds"])
        for sweep in again.values()
        for f in sweep["findings"]
        if f["email"] in {*everyone, stranger}
    ] == [(stranger, ["unknown_person"])]


def test_the_console_shows_the_last_sweep(system: System) -> None:
    reconcile(system, "--integration", "crm", "--dry-run")
    response = httpx.get(
        f"{system.support}/reconcile",
        cookies={"switchboard_admin": LOCAL_DEFAULTS["SWITCHBOARD_ADMIN_TOKENS"]},
        timeout=10,
    )
    assert response.status_code == 200
    assert "crm" in response.text


def test_switchboard_status_shows_where_a_customer_stands(system: System) -> None:
    env = {**system.env, "SWITCHBOARD_SUPPORT_URL": system.support}
    email = unique_email("status")
    purchase(system, [email])
    wait_for(lambda: purchased(system, email), 120, "the purchase")
    done = subprocess.run(
        [str(SWITCHBOARD), "status", email, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [customer] = json.loads(done.stdout.strip().splitlines()[-1])["customers"]
    assert customer["customer"]["email"] == email
    assert customer["customer"]["lifecycle"] == "active"
    assert {i: s["status"] for i, s in customer["integrations"].items()} == {
        "circle": "synced",
        "convertkit": "synced",
        "crm": "synced",
    }
    unknown = subprocess.run(
        [str(SWITCHBOARD), "status", unique_email("nobody")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert unknown.returncode == 1
    assert "no customer" in unknown.stderr
