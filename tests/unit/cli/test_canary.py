"""`switchboard canary` against a fake ingest (`httpx.MockTransport`) that verifies the
signature with ingest's own verifier and moves the customer as the workers would: the steps,
the JSON line, the recorded run, and each way a run fails (a refused signature or token, a
failed integration, a timeout, throttling, a store that refuses the record)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo.errors import ServerSelectionTimeoutError

from services.cli.canary import CanaryOptions, run_canary
from services.cli.canary_settings import CanarySettings
from services.cli.main import run
from services.ingest.normalize import normalize
from services.ingest.signature import verify_signature
from services.support.canary_metrics import CanaryRun

from .conftest import Captured, deps

SECRET = "whsec_canary_unit"
TOKEN = "app-token-canary-unit"
INGEST = "http://ingest.test"
INTEGRATIONS = ("circle", "convertkit", "crm")


def settings(**more: Any) -> CanarySettings:
    values: dict[str, Any] = {
        "env": "local",
        "ingest_url": INGEST,
        "stripe_webhook_secrets": f"{SECRET},whsec_older",
        "app_tokens": TOKEN,
        "mongodb_uri": "",
        "canary_poll_seconds": 0.01,
        **more,
    }
    return CanarySettings(**values)


@dataclass
class FakeIngest:
    """Accepts signed events; the customer's integrations sync after `lag` status reads."""

    lag: int = 2
    fail: str | None = None  # an integration that fails after the purchase
    webhook_status: int = 200
    throttle_first: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)
    reads: int = 0
    lifecycle: str | None = None
    synced_at_read: int = 0
    #: an integration an earlier run left failed (shown until this run's first outcome)
    earlier_failure: str | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/webhooks/stripe":
            return self.webhook(request)
        if request.url.path == "/v1/customers/status":
            return self.status(request)
        return httpx.Response(404, json={"error": "not_found"})

    def webhook(self, request: httpx.Request) -> httpx.Response:
        if self.webhook_status != 200:
            return httpx.Response(self.webhook_status, json={"error": "signature_mismatch"})
        header = request.headers["Stripe-Signature"]
        verify_signature(request.content, header, [SECRET], now=int(time.time()))
        event = json.loads(request.content)
        self.events.append(event)
        change = normalize(event)
        self.lifecycle = "canceled" if change.signal.value == "refunded" else "paid"
        self.synced_at_read = self.reads + self.lag
        return httpx.Response(200, json={"status": "accepted"})

    def status(self, request: httpx.Request) -> httpx.Response:
        self.reads += 1
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"error": "unauthorized"})
        if self.throttle_first and self.reads == 1:
            return httpx.Response(429, headers={"Retry-After": "0.01"}, json={"error": "x"})
        if self.lifecycle is None:
            return httpx.Response(404, json={"error": "customer_not_found"})
        synced = self.reads >= self.synced_at_read
        views = {}
        for name in INTEGRATIONS:
            state = "synced" if synced else "pending"
            if name == self.fail and self.lifecycle == "paid":
                state = "failed"
            views[name] = {"status": state, "reason": None if synced else "queued"}
            if name == self.earlier_failure and not (self.events and synced):
                an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
                views[name] = {"status": "failed", "since": an_hour_ago.isoformat()}
        return httpx.Response(200, json={"lifecycle": self.lifecycle, "integrations": views})


@dataclass
class Runs:
    recorded: list[CanaryRun] = field(default_factory=list)
    refuse: bool = False

    async def record(self, run: CanaryRun) -> None:
        if self.refuse:
            raise ServerSelectionTimeoutError("no servers")
        self.recorded.append(run)


async def canary(
    captured: Captured, ingest: FakeIngest, runs: Runs | None = None, **options: Any
) -> int:
    return await run_canary(
        settings(),
        terminal=captured.terminal,
        options=CanaryOptions(**{"as_json": True, "timeout": 5.0, **options}),
        transport=httpx.MockTransport(ingest),
        runs=runs,
    )


def answer(captured: Captured) -> dict[str, Any]:
    lines = captured.out.splitlines()
    assert len(lines) == 1, captured.out
    value: dict[str, Any] = json.loads(lines[0])
    return value


async def test_a_run_buys_waits_refunds_waits_and_is_recorded(captured: Captured) -> None:
    ingest, runs = FakeIngest(), Runs()
    assert await canary(captured, ingest, runs) == 0
    body = answer(captured)
    assert body["ok"] is True
    assert body["recorded"] is True
    assert body["seconds"] >= 0
    assert [s["name"] for s in body["steps"]] == [
        "purchase",
        "access granted",
        "refund",
        "access removed",
    ]
    assert all(s["ok"] and s["result"] == "ok" for s in body["steps"])
    assert "3 integrations synced" in body["steps"][1]["detail"]
    assert "lifecycle canceled" in body["steps"][3]["detail"]
    buy, refund = ingest.events
    assert (buy["type"], refund["type"]) == ("checkout.session.completed", "charge.refunded")
    assert refund["created"] > buy["created"]
    email = buy["data"]["object"]["customer_details"]["email"]
    assert email == body["email"] == "canary@canary.switchboard.invalid"
    (run,) = runs.recorded
    assert run.ok
    assert run.failed_step is None
    assert [s["name"] for s in run.steps] == [s["name"] for s in body["steps"]]
    assert "Canary" in captured.err  # the table went to stderr with --json


async def test_without_json_the_table_is_on_stdout(captured: Captured) -> None:
    assert await canary(captured, FakeIngest(lag=0), as_json=False) == 0
    assert "access removed" in captured.out
    assert "passed" in captured.out
    assert "not recorded" in captured.err


async def test_a_failed_integration_fails_the_run_at_once(captured: Captured) -> None:
    runs = Runs()
    started = time.monotonic()
    assert await canary(captured, FakeIngest(fail="convertkit"), runs) == 1
    assert time.monotonic() - started < 4  # did not wait for the timeout
    steps = answer(captured)["steps"]
    assert [s["result"] for s in steps] == ["ok", "failed", "skipped", "skipped"]
    assert "convertkit failed" in steps[1]["detail"]
    (run,) = runs.recorded
    assert not run.ok
    assert run.failed_step == "access granted"
    assert run.error is not None
    assert "convertkit" in run.error
    assert "convertkit failed" in captured.err


async def test_a_refused_signature_names_the_setting(captured: Captured) -> None:
    assert await canary(captured, FakeIngest(webhook_status=401), Runs()) == 1
    steps = answer(captured)["steps"]
    assert steps[0]["result"] == "failed"
    assert "SWITCHBOARD_STRIPE_WEBHOOK_SECRETS" in steps[0]["detail"]


async def test_integrations_that_never_sync_time_out_with_where_they_stood(
    captured: Captured,
) -> None:
    assert await canary(captured, FakeIngest(lag=10_000), Runs(), timeout=0.3) == 1
    detail = answer(captured)["steps"][1]["detail"]
    assert detail.startswith("timed out waiting for access to be granted everywhere")
    assert "circle pending, queued" in detail


async def test_a_throttled_status_read_waits_as_told(captured: Captured) -> None:
    assert await canary(captured, FakeIngest(throttle_first=True)) == 0


async def test_a_store_that_refuses_the_record_fails_the_run(captured: Captured) -> None:
    assert await canary(captured, FakeIngest(lag=0), Runs(refuse=True)) == 1
    body = answer(captured)
    assert body["ok"] is True  # the journey passed ...
    assert body["recorded"] is False  # ... but the metrics would not know
    assert "not recorded" in captured.err


async def test_the_command_line_with_a_wrong_token(captured: Captured) -> None:
    transport = httpx.MockTransport(FakeIngest())
    code = await run(
        ["canary", "--json", "--timeout", "5"],
        deps(captured, settings(app_tokens="wrong-token"), transport=transport),
    )
    assert code == 1
    steps = answer(captured)["steps"]
    # the purchase asks first where the canary stands, so nothing is bought with a bad token
    assert steps[0]["result"] == "failed"
    assert "SWITCHBOARD_APP_TOKENS" in steps[0]["detail"]
    assert TOKEN not in captured.out + captured.err


async def test_every_run_buys_as_the_same_customer(captured: Captured) -> None:
    ingest = FakeIngest()
    assert await canary(captured, ingest) == 0
    assert await canary(captured, ingest) == 0
    buys = [e["data"]["object"] for e in ingest.events if e["type"] == "checkout.session.completed"]
    assert len(buys) == 2
    assert {b["customer"] for b in buys} == {buys[0]["customer"]}
    assert {b["customer_details"]["email"] for b in buys} == {"canary@canary.switchboard.invalid"}
    assert len({e["id"] for e in ingest.events}) == 4  # each run's events are its own


async def test_an_earlier_runs_failure_does_not_fail_this_run(captured: Captured) -> None:
    # canceled, with Circle's last outcome a failure from an hour ago: this run's purchase
    # gets an outcome of its own, and only that one counts
    ingest = FakeIngest(lifecycle="canceled", earlier_failure="circle")
    assert await canary(captured, ingest) == 0
    assert answer(captured)["ok"] is True


async def test_access_an_earlier_run_left_is_refunded_before_buying(captured: Captured) -> None:
    # an earlier run stopped before its refund: buying again would change nothing
    ingest = FakeIngest(lifecycle="active", earlier_failure="circle")
    assert await canary(captured, ingest) == 0
    reset, buy, refund = ingest.events
    assert [e["type"] for e in (reset, buy, refund)] == [
        "charge.refunded",
        "checkout.session.completed",
        "charge.refunded",
    ]
    assert reset["created"] < buy["created"] < refund["created"]  # in Stripe's order
    assert len({reset["id"], refund["id"]}) == 2
    assert "refunded that first" in answer(captured)["steps"][0]["detail"]


async def test_missing_settings_are_named(captured: Captured) -> None:
    code = await run(["canary"], deps(captured, settings(stripe_webhook_secrets="")))
    assert code == 1
    assert "SWITCHBOARD_STRIPE_WEBHOOK_SECRETS is not set" in captured.err


async def test_the_timeout_must_be_positive(captured: Captured) -> None:
    assert await run(["canary", "--timeout", "0"], deps(captured, settings())) == 2


def test_the_ingest_url_may_come_from_the_public_webhook_url() -> None:
    public = "https://hooks.example.com/webhooks/stripe"
    assert settings(public_ingest_url=public).ingest_url == INGEST  # set: it wins
    found = CanarySettings(env="local", public_ingest_url=public)
    assert found.ingest_url == "https://hooks.example.com"
    assert CanarySettings(env="local").ingest_url == "http://127.0.0.1:8080"
