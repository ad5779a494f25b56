"""The sandbox's own guards: `python -m sandbox` starts only in local mode, and no web page can
drive it (a cross-site write gets a 403 JSON answer before anything runs or is counted)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.datastructures import Headers

from sandbox.__main__ import build_app, refuse_outside_local_mode
from sandbox.guard import cross_site_refusal, own_origins
from tests.unit.sandbox.conftest import KIT, make_settings

REPO = Path(__file__).resolve().parents[3]
PORT = 18999
OWN = "http://127.0.0.1:18999"


@pytest.fixture
async def guarded() -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(make_settings(sandbox_port=PORT, sandbox_kit_rate_limit=0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=OWN) as client:
        yield client


# -- local mode only --------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "production", "staging", "", "LOCAL", "local "])
def test_anything_but_local_mode_is_refused_with_the_variable_named(value: str | None) -> None:
    environ = {} if value is None else {"SWITCHBOARD_ENV": value}
    message = refuse_outside_local_mode(environ)
    assert message is not None
    assert "SWITCHBOARD_ENV" in message
    assert "SWITCHBOARD_ENV=local" in message


def test_local_mode_starts() -> None:
    assert refuse_outside_local_mode({"SWITCHBOARD_ENV": "local"}) is None


@pytest.mark.parametrize("value", [None, "production"])
def test_the_real_process_exits_outside_local_mode(value: str | None) -> None:
    """`python -m sandbox` as deployed would run it: it exits at once, non-zero, saying why,
    and never binds its port."""
    env = {k: v for k, v in os.environ.items() if k != "SWITCHBOARD_ENV"}
    if value is not None:
        env["SWITCHBOARD_ENV"] = value
    env["SWITCHBOARD_SANDBOX_PORT"] = str(PORT)
    result = subprocess.run(
        [sys.executable, "-m", "sandbox"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "SWITCHBOARD_ENV" in result.stderr
    assert "local mode" in result.stderr
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", PORT)) != 0, "nothing listens on the port"


# -- cross-site writes ------------------------------------------------------------------------


ORIGINS = own_origins(make_settings(sandbox_port=PORT))


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        ("POST", {}, False),  # the services, tests and curl send no browser headers
        ("POST", {"Origin": OWN}, False),
        ("POST", {"Origin": "http://localhost:18999"}, False),
        ("POST", {"Origin": "http://LOCALHOST:18999/"}, False),
        ("POST", {"Sec-Fetch-Site": "same-origin"}, False),
        ("POST", {"Sec-Fetch-Site": "none"}, False),  # typed into the address bar
        ("GET", {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, False),
        ("POST", {"Origin": "https://evil.example"}, True),
        ("PUT", {"Origin": "https://evil.example"}, True),
        ("PATCH", {"Origin": "https://evil.example"}, True),
        ("DELETE", {"Origin": "https://evil.example"}, True),
        ("POST", {"Origin": "null"}, True),  # a sandboxed iframe or a file:// page
        ("POST", {"Origin": "http://127.0.0.1:3000"}, True),  # another local app's page
        ("POST", {"Origin": "http://127.0.0.1:18999.evil.example"}, True),
        ("POST", {"Sec-Fetch-Site": "cross-site"}, True),
        ("POST", {"Sec-Fetch-Site": "same-site"}, True),  # another port of 127.0.0.1
        ("POST", {"Origin": OWN, "Sec-Fetch-Site": "same-origin"}, False),
    ],
)
def test_the_cross_site_rule(method: str, headers: dict[str, str], refused: bool) -> None:
    reason = cross_site_refusal(method, Headers(headers=headers), ORIGINS)
    assert (reason is not None) == refused, reason


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/_sandbox/reset", {}),
        ("POST", "/_sandbox/faults", {"Content-Type": "application/json"}),
        ("DELETE", "/_sandbox/faults", {}),
        ("POST", "/_sandbox/stripe/trigger", {"Content-Type": "application/json"}),
        ("POST", "/kit/v4/tags", {**KIT, "Content-Type": "application/json"}),
        ("DELETE", "/circle/api/admin/v2/access_groups/1/community_members", {}),
        ("PATCH", "/hubspot/crm/v3/objects/contacts/1", {}),
    ],
)
async def test_a_page_cannot_drive_the_control_api_or_a_provider(
    guarded: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> None:
    for browser in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = await guarded.request(
            method, path, headers={**headers, **browser}, content=b"{}"
        )
        assert response.status_code == 403, response.text
        body = response.json()
        assert body["error"] == "cross_site_request"
        assert "own origin" in body["message"]


async def test_a_refused_write_changes_nothing(guarded: httpx.AsyncClient) -> None:
    body = {"name": "from-a-web-page"}
    refused = await guarded.post(
        "/kit/v4/tags", json=body, headers={**KIT, "Origin": "https://evil.example"}
    )
    assert refused.status_code == 403
    tags = (await guarded.get("/kit/v4/tags", headers=KIT)).json()
    assert "from-a-web-page" not in str(tags)
    created = await guarded.post("/kit/v4/tags", json=body, headers={**KIT, "Origin": OWN})
    assert created.status_code < 300, created.text
    tags = (await guarded.get("/kit/v4/tags", headers=KIT)).json()
    assert "from-a-web-page" in str(tags)


async def test_reads_and_non_browser_writes_pass(guarded: httpx.AsyncClient) -> None:
    assert (await guarded.get("/healthz", headers={"Origin": "https://evil.example"})).is_success
    assert (await guarded.post("/_sandbox/reset")).status_code < 300


@pytest.fixture
def served() -> Iterator[str]:
    """`python -m sandbox` as the launcher starts it (local mode), on its own port."""
    env = {**os.environ, "SWITCHBOARD_ENV": "local", "SWITCHBOARD_SANDBOX_PORT": str(PORT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{OWN}/healthz", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                _, err = process.communicate(timeout=5)
                pytest.fail(f"the sandbox did not start: {err.decode()[-2000:]}")
            time.sleep(0.1)
        yield OWN
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_real_process_refuses_a_cross_site_write_and_serves_the_rest(served: str) -> None:
    page = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    refused = httpx.post(f"{served}/_sandbox/reset", headers=page, timeout=5)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/json")
    assert refused.json()["error"] == "cross_site_request"
    assert httpx.post(f"{served}/_sandbox/reset", timeout=5).status_code < 300
    assert httpx.get(f"{served}/_sandbox/state", headers=page, timeout=5).is_success
