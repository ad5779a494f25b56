"""Throttling and the console's guardrails on running services: ingest's status API and
support's admin API and console login answer 429 with `Retry-After` past their limits, failed
logins lock the address out, and console responses carry their security headers.

Every test calls from 127.0.0.1, so the session's stack runs with limits far above what the
other tests send (conftest.py). This module starts an ingest and a support of its own, exactly
as the stack starts them, with low limits, its own database and its own Kafka prefix: nothing
it does can throttle another test, and no other test's calls count against its limits.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from deploy.local.stack import Stack, default_specs
from tests.conftest import unique_email

from .conftest import REPO, System

pytestmark = pytest.mark.e2e

PORTS = {"ingest": 18280, "support": 18281}
APP = {"Authorization": "Bearer local-app-token"}
ADMIN = {"Authorization": "Bearer local-admin-token"}
ADMIN_TOKEN = "local-admin-token"
LIMITS = {
    "SWITCHBOARD_STATUS_RATE_LIMIT_PER_IP": "5",
    "SWITCHBOARD_STATUS_RATE_LIMIT_PER_TOKEN": "3",
    "SWITCHBOARD_ADMIN_RATE_LIMIT_PER_IP": "4",
    "SWITCHBOARD_ADMIN_RATE_LIMIT_PER_TOKEN": "1000",
    "SWITCHBOARD_LOGIN_RATE_LIMIT_PER_IP": "1000",
    "SWITCHBOARD_LOGIN_RATE_LIMIT_PER_TOKEN": "1000",
    "SWITCHBOARD_LOGIN_BACKOFF_AFTER_FAILURES": "3",
}


@pytest.fixture(scope="module")
def urls(system: System) -> Iterator[dict[str, str]]:
    run = uuid.uuid4().hex[:8]
    env = {
        **system.env,
        "SWITCHBOARD_MONGODB_DATABASE": f"e2e_throttle_{run}",
        "SWITCHBOARD_KAFKA_GROUP_PREFIX": f"e2e-throttle-{run}",
        **LIMITS,
    }
    specs = [s for s in default_specs(PORTS) if s.name in PORTS]
    stack = Stack(specs, env, REPO / ".run" / "test" / "logs-throttling")
    stack.start(timeout=90)
    try:
        yield {name: f"http://127.0.0.1:{port}" for name, port in PORTS.items()}
    finally:
        stack.stop()


def status(urls: dict[str, str], token: str) -> httpx.Response:
    return httpx.get(
        f"{urls['ingest']}/v1/customers/status",
        params={"email": unique_email("throttle")},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_the_status_api_is_throttled_per_token_then_per_address(urls: dict[str, str]) -> None:
    # 3 per token and 5 per address a minute: the token runs out first, then the address
    assert [status(urls, "local-app-token").status_code for _ in range(3)] == [404, 404, 404]
    by_token = status(urls, "local-app-token")
    assert by_token.status_code == 429
    assert by_token.json()["error"] == "rate_limited"
    assert "for this token" in by_token.json()["message"]
    assert by_token.headers["Retry-After"] == "20"  # a minute / 3
    assert status(urls, "a-guess").status_code == 401  # another token: its own bucket
    by_address = status(urls, "another-guess")
    assert by_address.status_code == 429  # the address's 5 are spent: no more guessing
    assert int(by_address.headers["Retry-After"]) >= 1


def test_the_admin_api_is_throttled_per_address_before_the_token_is_checked(
    urls: dict[str, str],
) -> None:
    api = f"{urls['support']}/api/tickets"
    assert httpx.get(api, headers=ADMIN, timeout=10).status_code == 200
    for _ in range(3):
        assert httpx.get(api, headers={"Authorization": "Bearer x"}, timeout=10).status_code == 401
    refused = httpx.get(api, headers=ADMIN, timeout=10)
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert refused.headers["Retry-After"] == "15"  # a minute / 4


def login(urls: dict[str, str], token: str, next_path: str = "/") -> httpx.Response:
    return httpx.post(
        f"{urls['support']}/login",
        data={"token": token, "next": next_path},
        headers={"Origin": urls["support"]},
        timeout=10,
    )


def test_failed_logins_lock_the_address_out_until_it_waits(urls: dict[str, str]) -> None:
    assert [login(urls, "guess").status_code for _ in range(3)] == [401, 401, 401]
    locked = login(urls, ADMIN_TOKEN)
    assert locked.status_code == 429  # the third failure locked the address for 1 s
    assert locked.headers["Retry-After"] == "1"
    assert 'name="token"' in locked.text
    time.sleep(1.2)
    ok = login(urls, ADMIN_TOKEN, next_path="/\\evil.example")
    assert ok.status_code == 303
    assert ok.headers["location"] == "/"  # never another site
    assert "switchboard_admin=" in ok.headers["set-cookie"]
    # success started the count again: two more failures lock nothing
    assert [login(urls, "guess").status_code for _ in range(2)] == [401, 401]
    assert login(urls, ADMIN_TOKEN).status_code == 303


def test_console_responses_carry_the_security_headers(urls: dict[str, str]) -> None:
    for path in ("/login", "/", "/console.css"):
        response = httpx.get(f"{urls['support']}{path}", timeout=10)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp, path
        assert "default-src 'self'" in csp, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "same-origin"
