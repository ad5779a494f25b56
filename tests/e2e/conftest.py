"""The whole system on the real broker and store: the sandbox and every service run as
processes, started exactly as `make run` starts them (deploy.local.stack), on test ports."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.local.stack import Stack, default_specs

from .kafka_reader import start_groups_at_end

REPO = Path(__file__).resolve().parents[2]

PORTS = {
    "sandbox": 18070,
    "ingest": 18080,
    "support": 18081,
    "circle_sync": 19201,
    "convertkit_sync": 19202,
    "crm_sync": 19203,
}
#: `/metrics` of ingest and support is on a listener of its own; the workers serve it on PORTS
METRICS_PORTS = {"ingest": 19180, "support": 19181}


def metrics_url(service: str) -> str:
    return f"http://127.0.0.1:{METRICS_PORTS.get(service, PORTS[service])}/metrics"


@dataclass
class System:
    stack: Stack
    sandbox: str
    ingest: str
    support: str
    env: dict[str, str]

    def state(self) -> dict[str, Any]:
        response = httpx.get(f"{self.sandbox}/_sandbox/state", timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def trigger(self, scenario: str, **fields: Any) -> dict[str, Any]:
        response = httpx.post(
            f"{self.sandbox}/_sandbox/stripe/trigger",
            json={"scenario": scenario, **fields},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def fault(self, **fault: Any) -> None:
        httpx.post(f"{self.sandbox}/_sandbox/faults", json=fault, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        httpx.delete(f"{self.sandbox}/_sandbox/faults", timeout=10).raise_for_status()


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def circle_member(state: dict[str, Any], email: str) -> dict[str, Any] | None:
    for member in state["circle"]["members"]:
        if member["email"].lower() == email.lower():
            return dict(member)
    return None


@pytest.fixture(scope="session")
def system(kafka_bootstrap: str, mongodb_uri: str) -> Iterator[System]:
    run = uuid.uuid4().hex[:8]
    sandbox = f"http://127.0.0.1:{PORTS['sandbox']}"
    env = {
        **__import__("os").environ,
        "SWITCHBOARD_ENV": "local",
        "PYTHONUNBUFFERED": "1",
        "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SWITCHBOARD_MONGODB_URI": mongodb_uri,
        "SWITCHBOARD_MONGODB_DATABASE": f"e2e_{run}",
        "SWITCHBOARD_KAFKA_GROUP_PREFIX": f"e2e-{run}",
        "SWITCHBOARD_CIRCLE_BASE_URL": f"{sandbox}/circle",
        "SWITCHBOARD_KIT_BASE_URL": f"{sandbox}/kit",
        "SWITCHBOARD_HUBSPOT_BASE_URL": f"{sandbox}/hubspot",
        "SWITCHBOARD_ZENDESK_BASE_URL": f"{sandbox}/zendesk",
        "SWITCHBOARD_STRIPE_API_BASE_URL": f"{sandbox}/stripe",
        # Each session's new consumer groups start from the topics' beginning, so a re-run on
        # the same infrastructure (make stack-test) replays earlier runs' events; Kit's real
        # 120/min would make that take minutes. Rate limits get their own tests via faults.
        "SWITCHBOARD_SANDBOX_CIRCLE_RATE_LIMIT": "0",
        "SWITCHBOARD_SANDBOX_KIT_RATE_LIMIT": "0",
        "SWITCHBOARD_SANDBOX_HUBSPOT_RATE_LIMIT": "0",
        # Kit's lists and HubSpot's search read at once, not seconds late: tests make drift by
        # hand and sweep right away (the lag has its own tests, sandbox and reconcile).
        "SWITCHBOARD_SANDBOX_KIT_LIST_LAG_S": "0",
        "SWITCHBOARD_SANDBOX_HUBSPOT_SEARCH_LAG_S": "0",
        # ... and the workers' pacing, which defaults to the same published limits
        "SWITCHBOARD_RATE_LIMIT": "0",
        # Failures after retries are what many tests are about: short retries keep them quick
        # (the defaults ride out about a minute of outage first).
        "SWITCHBOARD_RETRIES": "4",
        "SWITCHBOARD_BACKOFF_BASE_SECONDS": "0.2",
        "SWITCHBOARD_BACKOFF_MAX_SECONDS": "10",
        # Sweeps only when a test asks (`switchboard reconcile`): a scheduled one would add
        # its page reads to the call counts other tests take. Drift is made by hand right after
        # the workers wrote, and the sandbox's lists do not lag: no settling time.
        "SWITCHBOARD_RECONCILE_INTERVAL_SECONDS": "0",
        "SWITCHBOARD_RECONCILE_SETTLE_SECONDS": "0",
        "SWITCHBOARD_RECONCILE_POLL_SECONDS": "0.5",
        "SWITCHBOARD_SANDBOX_INGEST_URL": f"http://127.0.0.1:{PORTS['ingest']}/webhooks/stripe",
        # Every test calls from 127.0.0.1, polls the status API and fuzzes both APIs: the
        # throttles stay on but far above that; test_throttling.py runs its own ingest and
        # support with low limits.
        "SWITCHBOARD_STATUS_RATE_LIMIT_PER_IP": "1000000",
        "SWITCHBOARD_STATUS_RATE_LIMIT_PER_TOKEN": "1000000",
        "SWITCHBOARD_ADMIN_RATE_LIMIT_PER_IP": "1000000",
        "SWITCHBOARD_ADMIN_RATE_LIMIT_PER_TOKEN": "1000000",
        "SWITCHBOARD_LOGIN_RATE_LIMIT_PER_IP": "1000000",
        "SWITCHBOARD_LOGIN_RATE_LIMIT_PER_TOKEN": "1000000",
        "SWITCHBOARD_LOGIN_BACKOFF_AFTER_FAILURES": "1000000",
    }
    start_groups_at_end(kafka_bootstrap, env["SWITCHBOARD_KAFKA_GROUP_PREFIX"])
    stack = Stack(default_specs(PORTS, METRICS_PORTS), env, REPO / ".run" / "test" / "logs")
    stack.start(timeout=90)
    try:
        yield System(
            stack=stack,
            sandbox=sandbox,
            ingest=f"http://127.0.0.1:{PORTS['ingest']}",
            support=f"http://127.0.0.1:{PORTS['support']}",
            env=env,
        )
    finally:
        stack.stop()
