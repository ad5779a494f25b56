"""`switchboard doctor` on the whole system, run as an operator runs it: against the running
stack it passes every check (exit 0); with a wrong Kit key, and in production with the Stripe
account's webhook endpoint at a staging URL, exactly those checks fail (exit 1), each with a fix.
Each run's table goes to stderr, and is printed here for the record (`pytest -rP`)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from libs.runtime.local_defaults import LOCAL_DEFAULTS
from libs.runtime.mapping import DEFAULT_MAPPING_FILE, IntegrationMapping, load_section

from .conftest import System

pytestmark = pytest.mark.e2e

SWITCHBOARD = Path(sys.executable).parent / "switchboard"
#: the sandbox account's read-only restricted key: what a deployment should run with
RESTRICTED_KEY = "rk_test_local_dev_only"
PRODUCTION_INGEST = "https://switchboard.example.com/webhooks/stripe"
STAGING_INGEST = "https://staging.switchboard.example.com/webhooks/stripe"


def doctor(env: dict[str, str]) -> tuple[int, dict[str, dict[str, Any]], str]:
    done = subprocess.run(
        [str(SWITCHBOARD), "doctor", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    print(done.stderr)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["ok"] is (done.returncode == 0)
    return done.returncode, {c["name"]: c for c in answer["checks"]}, done.stderr


def provision(system: System) -> None:
    """Every access group and tag the mapping names, as an operator sets them up first."""
    names = IntegrationMapping[list[str]]
    circle = httpx.Client(
        base_url=f"{system.sandbox}/circle/api/admin/v2",
        headers={"Authorization": f"Bearer {LOCAL_DEFAULTS['SWITCHBOARD_CIRCLE_TOKEN']}"},
        timeout=10,
    )
    kit = httpx.Client(
        base_url=f"{system.sandbox}/kit/v4",
        headers={"X-Kit-Api-Key": LOCAL_DEFAULTS["SWITCHBOARD_KIT_API_KEY"]},
        timeout=10,
    )
    with circle, kit:
        groups = load_section(DEFAULT_MAPPING_FILE, "circle", names).everything()
        existing = {g["name"] for g in system.state()["circle"]["access_groups"]}
        for group in {name for names_ in groups for name in names_} - existing:
            circle.post("/access_groups", json={"name": group}).raise_for_status()
        tags = load_section(DEFAULT_MAPPING_FILE, "convertkit", names).everything()
        # Only the missing ones: other tests count the calls the workers make for tags.
        have = {t["name"] for t in system.state()["kit"]["tags"]}
        for tag in {name for names_ in tags for name in names_} - have:
            kit.post("/tags", json={"name": tag}).raise_for_status()


@pytest.fixture
def healthy(system: System) -> Iterator[dict[str, str]]:
    """The e2e environment as the doctor needs it: the restricted key, where Stripe delivers."""
    httpx.delete(f"{system.sandbox}/_sandbox/doctor", timeout=10).raise_for_status()
    provision(system)
    yield {
        **system.env,
        "SWITCHBOARD_STRIPE_API_KEY": RESTRICTED_KEY,
        # where the sandbox, standing in for Stripe, delivers (SWITCHBOARD_SANDBOX_INGEST_URL)
        "SWITCHBOARD_PUBLIC_INGEST_URL": f"{system.ingest}/webhooks/stripe",
    }
    httpx.delete(f"{system.sandbox}/_sandbox/doctor", timeout=10).raise_for_status()


def test_against_the_running_stack_every_check_passes(healthy: dict[str, str]) -> None:
    code, checks, table = doctor(healthy)
    failed = {name: c for name, c in checks.items() if not c["ok"]}
    assert code == 0, table
    assert not failed
    assert {"kafka", "kafka topics", "consumer lag", "store", "stripe webhook endpoint"} <= set(
        checks
    )


def test_a_wrong_kit_key_and_a_staging_endpoint_in_production_fail_those_checks(
    system: System, healthy: dict[str, str]
) -> None:
    # The Stripe account this key belongs to delivers to staging's ingest, not production's.
    endpoint = {"url": STAGING_INGEST}
    httpx.post(
        f"{system.sandbox}/_sandbox/doctor", json={"webhook_endpoints": [endpoint]}, timeout=10
    ).raise_for_status()
    # Production fills nothing from the local defaults: every credential is given explicitly
    # (the sandbox's, which are its local defaults), the Kit key a wrong one.
    secrets = {name: LOCAL_DEFAULTS[name] for name in LOCAL_DEFAULTS if "_BASE_URL" not in name}
    production = {
        **healthy,
        **{k: v for k, v in secrets.items() if k not in ("SWITCHBOARD_STRIPE_API_KEY",)},
        "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": healthy["SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS"],
        "SWITCHBOARD_MONGODB_URI": healthy["SWITCHBOARD_MONGODB_URI"],
        "SWITCHBOARD_ENV": "production",
        "SWITCHBOARD_KIT_API_KEY": "kit_v4_production_key_from_the_wrong_vault",
        "SWITCHBOARD_PUBLIC_INGEST_URL": PRODUCTION_INGEST,
    }
    code, checks, table = doctor(production)
    failed = {name for name, c in checks.items() if not c["ok"]}
    assert code == 1, table
    assert checks["kit credential"]["detail"].startswith("401")
    assert STAGING_INGEST in checks["stripe webhook endpoint"]["detail"]
    assert failed == {
        "kit credential",
        "mapping: convertkit tags",  # not checked without a working key
        "stripe webhook endpoint",
        "stripe webhook events",  # not checked without this environment's endpoint
        # production on the sandbox's test-mode key and local development secrets
        "stripe mode",
        "secrets per environment",
    }
    assert all(checks[name]["fix"] for name in failed)
    assert "kit_v4_production_key_from_the_wrong_vault" not in table
