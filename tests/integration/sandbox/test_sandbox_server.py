"""The sandbox served by a real uvicorn on a free port: a `drop` fault must reach the client as a
broken connection (what a crashed provider looks like), never as an HTTP status.

Needs no Kafka or database, only a local socket.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from sandbox.app import create_app
from sandbox.settings import SandboxSettings
from tests.integration.in_process import NO_LAG

EMAIL, TOKEN = "bot@example.test", "integration-zendesk-token"
ZENDESK = {"Authorization": "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    port = free_port()
    settings = SandboxSettings(
        zendesk_email=EMAIL, zendesk_token=TOKEN, sandbox_port=port, **NO_LAG
    )
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the sandbox did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_drop_fault_breaks_the_connection(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=5) as client:
        fault = {"provider": "zendesk", "drop": True, "count": 1}
        assert client.post("/_sandbox/faults", json=fault).status_code == 201
        body = {"ticket": {"subject": "x", "comment": {"body": "y"}}}
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.post("/zendesk/api/v2/tickets", json=body, headers=ZENDESK)
        # The next request is answered normally, and the dropped one created nothing.
        assert client.get("/zendesk/api/v2/tickets", headers=ZENDESK).json()["count"] == 0
        zendesk = client.get("/_sandbox/state").json()["zendesk"]
        assert zendesk["faulted"] == {"POST /api/v2/tickets": 1}


def test_status_fault_over_a_real_socket(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=5) as client:
        fault = {"provider": "zendesk", "status": 503, "count": 1, "retry_after": 3}
        client.post("/_sandbox/faults", json=fault)
        response = client.get("/zendesk/api/v2/tickets", headers=ZENDESK)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "3"


def test_reads_and_calls_over_a_real_socket(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=5) as client:
        assert client.post("/_sandbox/reset").status_code == 200
        assert client.get("/zendesk/api/v2/tickets/9.json", headers=ZENDESK).status_code == 404
        fault = {"provider": "zendesk", "status": 429, "count": 1}
        client.post("/_sandbox/faults", json=fault)
        assert client.get("/zendesk/api/v2/tickets/9", headers=ZENDESK).status_code == 429
        client.post("/_sandbox/faults", json={"provider": "zendesk", "drop": True, "count": 1})
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.get("/zendesk/api/v2/tickets", headers=ZENDESK)
        body = {"ticket": {"subject": "x", "comment": {"body": "y"}, "requester": {"name": "A"}}}
        client.post("/zendesk/api/v2/tickets", json=body, headers=ZENDESK)
        zendesk = client.get("/_sandbox/state").json()["zendesk"]
        # The 404 and the 429 are reads; the dropped read got no answer; the write is no read.
        assert zendesk["reads"] == {"GET /api/v2/tickets/{id}": 2}
        assert zendesk["requests"] == {"POST /api/v2/tickets": 1}
        assert zendesk["calls"] == 3
        assert client.post("/_sandbox/reset", params={"provider": "zendesk"}).status_code == 200
        zendesk = client.get("/_sandbox/state").json()["zendesk"]
        assert (zendesk["reads"], zendesk["requests"], zendesk["calls"]) == ({}, {}, 0)
