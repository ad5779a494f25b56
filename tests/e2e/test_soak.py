"""A short soak under faults (bench/soak with the compressed `ci` schedule): a few hundred
customers' webhooks while every service is killed once, Kafka and FerretDB are stopped and the
providers fail, time out and rate-limit. Asserts invariants only, never a timing: no accepted
event lost, nothing doubled, nothing silently stuck (each customer converged or visibly failed).

Runs its own sandbox and services on their own ports, database and consumer groups, so the
session's `system` fixture is not touched; it stops and restarts the test Kafka and FerretDB and
leaves them running."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from bench.soak import scenario
from bench.soak.faults import SCHEDULE_ENV
from bench.soak.harness import Config, soak, stack_env
from bench.soak.report import headline
from deploy.local.stack import Stack, default_specs

from .kafka_reader import start_groups_at_end

REPO = Path(__file__).resolve().parents[2]

PORTS = {
    "sandbox": 17070,
    "ingest": 17080,
    "support": 17081,
    "circle_sync": 17201,
    "convertkit_sync": 17202,
    "crm_sync": 17203,
}
#: the test infrastructure, as `make test` / `make stack-test` set it
TEST_INFRA = {
    "SWITCHBOARD_LOCAL_RUN_DIR": ".run/test",
    "SWITCHBOARD_LOCAL_KAFKA_PORT": "19092",
    "SWITCHBOARD_LOCAL_KAFKA_CONTROLLER_PORT": "19093",
    "SWITCHBOARD_LOCAL_MONGO_PORT": "27018",
}


def test_expected_state_follows_true_order_not_delivery_order() -> None:
    customers = scenario.make_customers(400, "t", 1_700_000_000, seed=5)
    plan = scenario.make_plan(customers, seed=5)
    expected = scenario.expectations(plan)
    lifecycles = {
        "purchase": "active",
        "renewal": "active",
        "failed_then_renewal": "active",
        "past_due": "past_due",
        "refund": "canceled",
        "cancel": "canceled",
        "dispute": "canceled",
        "refund_first": "canceled",
        "cancel_first": "canceled",
    }
    for c in customers:
        assert expected[c.email.lower()].lifecycle == lifecycles[c.story], c.story
    position = {d.event_id: i for i, d in enumerate(plan.deliveries) if not d.duplicate}
    for c in customers:
        events = {e.kind: e for e in plan.events_of(c.index)}
        if c.story.endswith("_first"):
            last = events["refund" if c.story == "refund_first" else "cancel"]
            assert position[last.event_id] < position[events["checkout"].event_id]
            assert last.created > events["checkout"].created


def test_every_event_is_delivered_and_some_twice() -> None:
    customers = scenario.make_customers(300, "t", 1_700_000_000)
    plan = scenario.make_plan(customers)
    assert {d.event_id for d in plan.deliveries} == set(plan.events)
    assert any(d.concurrent for d in plan.deliveries)
    assert any(d.duplicate and not d.concurrent for d in plan.deliveries)


def _infra(command: str, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "deploy.local", command],
        cwd=REPO,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=180,
    )


@pytest.mark.e2e
@pytest.mark.timeout(420)
def test_soak_under_faults_loses_nothing_doubles_nothing_leaves_nothing_silently_stuck(
    kafka_bootstrap: str, mongodb_uri: str
) -> None:
    run = uuid.uuid4().hex[:6]
    infra_env = {**TEST_INFRA, **os.environ}
    env = {
        **os.environ,
        **stack_env(PORTS, kafka_bootstrap, mongodb_uri, run, prefix="soaktest"),
        "SWITCHBOARD_LOG_LEVEL": "INFO",
        **SCHEDULE_ENV["ci"],
    }
    start_groups_at_end(kafka_bootstrap, env["SWITCHBOARD_KAFKA_GROUP_PREFIX"])
    log_dir = REPO / ".run" / "test" / f"soak-{run}"
    stack = Stack(default_specs(PORTS), env, log_dir)
    cfg = Config(customers=240, rate=8, schedule="ci", converge_timeout=150, stall_seconds=45)
    started = time.monotonic()
    stack.start(timeout=120)
    try:
        summary = asyncio.run(
            soak(
                cfg,
                stack,
                f"http://127.0.0.1:{PORTS['sandbox']}",
                f"http://127.0.0.1:{PORTS['ingest']}",
                infra_env,
                run,
            )
        )
    finally:
        stack.stop()
        _infra("start", infra_env)  # whatever happened, the test infrastructure stays up
    (log_dir / "final-state.json").write_text(json.dumps(summary.pop("final_state")))
    (log_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"soak took {time.monotonic() - started:.0f} s; summary in {log_dir}/summary.json")
    print(headline(summary))
    verdict = summary["verdict"]
    assert not summary["faults"]["errors"], summary["faults"]["errors"]
    assert summary["timeline"]["all_deliveries_accepted"], summary["delivery"]
    assert verdict["lost"]["customers"] == 0, verdict["lost"]
    assert all(n == 0 for n in verdict["duplicates"].values()), verdict["duplicates"]
    assert verdict["silently_stuck"]["customers"] == 0, verdict["silently_stuck"]
    shutil.rmtree(log_dir)  # a failing run keeps its logs, state and summary to look into
