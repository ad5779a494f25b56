"""The local launcher (`python -m deploy.local`, which `make run` runs) on the real stack: a
service that dies is restarted with a log line, the rest keeps running, and only Ctrl-C stops
everything; Kafka and FerretDB started twice is harmless, a taken port stops nothing and starts
nothing, and neither `stop` nor an interrupted start leaves a process behind."""

from __future__ import annotations

import json
import os
import signal
import socket
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
            [sys.executable, "-m", "deploy.local", "run", "--no-infra"],
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
        # a configured account: the Kit tags the mapping names exist (`switchboard doctor`)
        kit = httpx.get(f"{sandbox}/_sandbox/state", timeout=10).json()["kit"]
        assert {t["name"] for t in kit["tags"]} == {"customer", "churned", "canary"}
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
    modules = ("sandbox", "services.ingest", "services.support", "services.circle_sync")
    assert [m for m in modules if _pid_of(m, run)] == []
    assert not (tmp_path / "run.pid").exists()


#: this test's own Kafka and FerretDB (clear of the test infrastructure and of the services above)
INFRA_PORTS = {
    "SWITCHBOARD_LOCAL_KAFKA_PORT": "21092",
    "SWITCHBOARD_LOCAL_KAFKA_CONTROLLER_PORT": "21093",
    "SWITCHBOARD_LOCAL_MONGO_PORT": "21017",
}


def _launcher(command: str, run_dir: Path, **ports: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **INFRA_PORTS, **ports, "SWITCHBOARD_LOCAL_RUN_DIR": str(run_dir)}
    return subprocess.run(
        [sys.executable, "-m", "deploy.local", command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _recorded(run_dir: Path) -> dict[str, int]:
    return {f.stem: int(f.read_text().split()[0]) for f in run_dir.glob("*.pid")}


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.timeout(300)
def test_infra_started_twice_is_harmless_a_taken_port_starts_nothing_and_stop_leaves_nothing(
    tmp_path: Path,
) -> None:
    run_dir, other = tmp_path / "infra", tmp_path / "other"
    ports = [int(p) for p in INFRA_PORTS.values()]
    assert not any(_port_open(p) for p in ports), "this test's ports are taken"
    try:
        first = _launcher("start", run_dir)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "kafka: ready" in first.stdout
        assert "ferretdb: ready" in first.stdout
        pids = _recorded(run_dir)
        assert set(pids) == {"kafka", "ferretdb"}

        again = _launcher("start", run_dir)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "kafka: already running" in again.stdout
        assert "ferretdb: already running" in again.stdout
        assert _recorded(run_dir) == pids
        assert _launcher("status", run_dir).returncode == 0

        # FerretDB's port is taken (by the first instance): one error line, nothing started
        taken = _launcher(
            "start",
            other,
            SWITCHBOARD_LOCAL_KAFKA_PORT="21192",
            SWITCHBOARD_LOCAL_KAFKA_CONTROLLER_PORT="21193",
        )
        assert taken.returncode == 1
        assert taken.stderr.splitlines() == [taken.stderr.strip()]
        assert taken.stderr.startswith("error: port 21017 is already in use"), taken.stderr
        assert _recorded(other) == {}
        assert not _port_open(21192)
        assert _recorded(run_dir) == pids  # and the running one untouched
    finally:
        stopped = _launcher("stop", run_dir)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert all(_gone(pid) for pid in pids.values())
    assert _recorded(run_dir) == {}
    assert not any(_port_open(p) for p in ports)
    status = _launcher("status", run_dir)
    assert status.returncode == 3, status.stdout


@pytest.mark.timeout(120)
def test_an_interrupted_start_stops_what_it_launched(tmp_path: Path) -> None:
    env = {**os.environ, **INFRA_PORTS, "SWITCHBOARD_LOCAL_RUN_DIR": str(tmp_path)}
    out = tmp_path / "start.out"
    with out.open("wb") as sink:
        start = subprocess.Popen(
            [sys.executable, "-m", "deploy.local", "start"],
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        pids = wait_for(
            lambda: (found := _recorded(tmp_path)).keys() == {"kafka", "ferretdb"} and found,
            60,
            "both servers launched",
        )
    finally:
        start.send_signal(signal.SIGINT)
        code = start.wait(timeout=60)
    assert code == 130, out.read_text()
    assert "stopping what this start launched" in out.read_text()
    assert pids
    assert all(_gone(pid) for pid in pids.values())
    assert _recorded(tmp_path) == {}
    assert not any(_port_open(int(p)) for p in INFRA_PORTS.values())
