"""A service run as a process, as `make run` and Kubernetes run it (here ingest, with Kafka and
the store unreachable, which it rides out): two listeners, the main one without `/metrics`, and
every line it writes one JSON object, uvicorn's own and a refusal to start included."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    return {**env, "PYTHONUNBUFFERED": "1", **values}


def json_lines(text: str) -> list[dict[str, object]]:
    """Every non-blank line, parsed; fails naming the first line that is not one JSON object."""
    parsed = []
    for line in text.splitlines():
        if line.strip():
            try:
                value = json.loads(line)
            except ValueError:
                pytest.fail(f"not a JSON line: {line!r}")
            assert isinstance(value, dict), line
            parsed.append(value)
    return parsed


@dataclass
class Running:
    popen: subprocess.Popen[str]
    port: int
    metrics_port: int


@pytest.fixture
def ingest() -> Iterator[Running]:
    port, metrics_port = free_port(), free_port()
    env = environment(
        SWITCHBOARD_ENV="local",
        SWITCHBOARD_PORT=str(port),
        SWITCHBOARD_METRICS_PORT=str(metrics_port),
        SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1",
        SWITCHBOARD_MONGODB_URI="mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300",
    )
    popen = subprocess.Popen(
        [sys.executable, "-m", "services.ingest"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Running(popen, port, metrics_port)
    try:
        deadline = time.monotonic() + 20
        while not answers(port) or not answers(metrics_port, "/metrics"):
            assert popen.poll() is None, popen.communicate()[0]
            assert time.monotonic() < deadline, "ingest did not start"
            time.sleep(0.1)
        yield running
    finally:
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                popen.kill()


def answers(port: int, path: str = "/healthz") -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_two_listeners_and_only_json_lines(ingest: Running) -> None:
    main, metrics = f"http://127.0.0.1:{ingest.port}", f"http://127.0.0.1:{ingest.metrics_port}"
    assert httpx.get(f"{main}/metrics").status_code == 404
    assert httpx.get(f"{main}/metrics").json()["error"] == "not_found"
    scraped = httpx.get(f"{metrics}/metrics")
    assert "switchboard_ingest_webhooks_total" in scraped.text
    assert httpx.get(f"{metrics}/healthz").status_code == 404
    assert httpx.get(f"{main}/openapi.json").status_code == 200  # local mode
    # what uvicorn itself logs: a request that is not HTTP
    with socket.create_connection(("127.0.0.1", ingest.port)) as raw:
        raw.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        raw.recv(1024)
    # a signed-looking body with a bad signature, a route that does not exist
    httpx.post(f"{main}/webhooks/stripe", content=b"{}", headers={"Stripe-Signature": "t=1"})
    httpx.get(f"{main}/nowhere")
    ingest.popen.send_signal(signal.SIGTERM)
    output, _ = ingest.popen.communicate(timeout=30)
    lines = json_lines(output)
    messages = [str(line.get("message")) for line in lines]
    assert any("Uvicorn running" in m for m in messages)  # uvicorn's lines, as JSON
    assert any("Invalid HTTP request" in m for m in messages)
    assert "webhook_rejected" in messages
    assert all(line.get("service") == "ingest" for line in lines)
    # both listeners stopped: the process ended on its own
    assert ingest.popen.returncode is not None


def test_a_refusal_to_start_is_one_json_line() -> None:
    env = environment(
        SWITCHBOARD_ENV="production", SWITCHBOARD_STRIPE_WEBHOOK_SECRETS="whsec_local_dev_only"
    )
    done = subprocess.run(
        [sys.executable, "-m", "services.ingest"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    [line] = json_lines(done.stderr)
    assert line["message"] == "service_failed"
    assert "SWITCHBOARD_STRIPE_WEBHOOK_SECRETS still has its local development value" in str(
        line["detail"]
    )
    assert "whsec_local_dev_only" not in done.stderr  # the name, never the value


def test_a_metrics_port_in_use_stops_the_service_cleanly() -> None:
    """Nobody could scrape it: it must not run as if healthy; it stops through its own shutdown
    (JSON lines only) and exits non-zero, so the launcher or Kubernetes says so."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = environment(
            SWITCHBOARD_ENV="local",
            SWITCHBOARD_PORT=str(free_port()),
            SWITCHBOARD_METRICS_PORT=str(taken.getsockname()[1]),
            SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1",
            SWITCHBOARD_MONGODB_URI="mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300",
        )
        done = subprocess.run(
            [sys.executable, "-m", "services.ingest"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 3
    lines = json_lines(done.stdout + done.stderr)
    messages = [str(line.get("message")) for line in lines]
    assert any("address already in use" in m for m in messages)
    assert any("Application shutdown complete" in m for m in messages)
