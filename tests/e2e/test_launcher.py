"""`make run`'s launcher (deploy/local/stack.py) on the real stack: a service that dies is
restarted with a log line, the rest keeps running, and only Ctrl-C stops everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from .conftest import REPO, wait_for

pytestmark = pytest.mark.e2e

#: default ports + this offset (21070.., 22101..): clear of `make run`, of the other stacks and
#: of the kernel's ephemeral ports (32768 and up), where a client socket could take ours
OFFSET = 13_000


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _pid_of(module: str, run: str) -> int | None:
    """The pid of this run's `python -m <module>` (its environment names the run's database)."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if module.encode() in cmdline and f"SWITCHBOARD_MONGODB_DATABASE={run}".encode() in environ:
            return int(proc.name)
    return None


def test_a_killed_worker_is_restarted_and_only_ctrl_c_stops_everything(
    kafka_bootstrap: str, mongodb_uri: str, tmp_path: Path
) -> None:
    run = f"launcher_{uuid.uuid4().hex[:8]}"
    sandbox = f"http://127.0.0.1:{8070 + OFFSET}"
    env = {
        **os.environ,
        "SWITCHBOARD_ENV": "local",
        "SWITCHBOARD_LOCAL_PORT_OFFSET": str(OFFSET),
        "SWITCHBOARD_LOCAL_RUN_DIR": str(tmp_path),
        "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SWITCHBOARD_MONGODB_URI": mongodb_uri,
        "SWITCHBOARD_MONGODB_DATABASE": run,
        "SWITCHBOARD_KAFKA_GROUP_PREFIX": run,
        "SWITCHBOARD_CIRCLE_BASE_URL": f"{sandbox}/circle",
        "SWITCHBOARD_KIT_BASE_URL": f"{sandbox}/kit",
        "SWITCHBOARD_HUBSPOT_BASE_URL": f"{sandbox}/hubspot",
        "SWITCHBOARD_ZENDESK_BASE_URL": f"{sandbox}/zendesk",
        "SWITCHBOARD_STRIPE_API_BASE_URL": f"{sandbox}/stripe",
    }
    out = tmp_path / "launcher.out"
    with out.open("wb") as sink:
        launcher = subprocess.Popen(
            [sys.executable, "deploy/local/stack.py"],
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            wait_for(lambda: "is ready" in out.read_text(), 90, "the launcher to be ready")
        except AssertionError:
            raise AssertionError(out.read_text()[-3000:]) from None
        circle_port = 9101 + OFFSET
        victim = wait_for(lambda: _pid_of("services.circle_sync", run), 10, "circle_sync's pid")
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: "service_restarted" in out.read_text(), 30, "the launcher to restart it")
        wait_for(lambda: _healthy(circle_port), 60, "circle_sync to answer again")
        assert launcher.poll() is None, out.read_text()
        assert _pid_of("services.circle_sync", run) not in (None, victim)
        lines = [json.loads(x) for x in out.read_text().splitlines() if x.startswith("{")]
        exited = [x for x in lines if x["event"] == "service_exited"]
        assert [(x["service"], x["exit_code"]) for x in exited] == [("circle_sync", -9)]
        assert _healthy(8080 + OFFSET)  # the rest kept running
    finally:
        launcher.send_signal(signal.SIGINT)
        code = launcher.wait(timeout=60)
    assert code == 0
    time.sleep(0.5)
    assert not any(_healthy(port + OFFSET) for port in (8070, 8080, 8081, 9101, 9102, 9103))
