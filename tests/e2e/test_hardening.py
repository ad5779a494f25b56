"""Hardened surfaces on the real stack (issue 14, item 5): `/metrics` only on its own port, API
docs only in local mode, hostile signed bodies a 400, admin time filters outside a sane range a
422, and every line the services write one JSON object."""

from __future__ import annotations

import json
import secrets
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.log_audit import audit_logs
from deploy.local.stack import Stack, default_specs
from sandbox.stripe.webhook import sign

from .conftest import METRICS_PORTS, PORTS, REPO, System, metrics_url

pytestmark = pytest.mark.e2e

SECRET = "whsec_local_dev_only"
ADMIN = {"Authorization": "Bearer local-admin-token"}
#: an ingest and a support of this module's own, outside local mode
HOSTED_PORTS = {"ingest": 18380, "support": 18381}


def signed_post(system: System, raw: bytes) -> httpx.Response:
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": sign(raw, SECRET, int(time.time())),
    }
    return httpx.post(f"{system.ingest}/webhooks/stripe", content=raw, headers=headers, timeout=30)


class LogTail:
    """The lines services write from now on (a session's logs are appended to)."""

    def __init__(self, *files: Path) -> None:
        self.files = {f: f.stat().st_size if f.exists() else 0 for f in files}

    def audit(self, into: Path) -> dict[str, Any]:
        copies = []
        for file, start in self.files.items():
            copy = into / file.name
            with file.open("rb") as source:
                source.seek(start)
                copy.write_bytes(source.read())
            copies.append(copy)
        return audit_logs(copies, [SECRET, "local-admin-token"])


# --- /metrics on its own port -----------------------------------------------------------------


@pytest.mark.parametrize("service", ["ingest", "support"])
def test_metrics_answer_only_on_the_metrics_port(system: System, service: str) -> None:
    main = f"http://127.0.0.1:{PORTS[service]}"
    refused = httpx.get(f"{main}/metrics", timeout=10)
    assert refused.status_code == 404
    assert refused.json()["error"] == "not_found"
    assert httpx.get(f"{main}/healthz", timeout=10).status_code == 200
    scraped = httpx.get(metrics_url(service), timeout=10)
    assert scraped.status_code == 200
    assert f"switchboard_{service}_" in scraped.text
    metrics = f"http://127.0.0.1:{METRICS_PORTS[service]}"
    for path in ("/healthz", "/readyz", "/openapi.json", "/api/failures"):
        assert httpx.get(f"{metrics}{path}", timeout=10).status_code == 404, path


# --- hostile signed bodies --------------------------------------------------------------------


def event() -> dict[str, Any]:
    return {
        "id": f"evt_hard_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": "customer.updated",
        "created": int(time.time()),
        "data": {"object": {"id": "cus_hardening", "email": "hardening@example.com"}},
    }


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (json.dumps(event()).encode("utf-16"), "body_not_utf8"),
        (json.dumps(event()).encode("utf-16-le"), "body_not_utf8"),
        (json.dumps(event()).encode("utf-32"), "body_not_utf8"),
        (b"[" * 100_000 + b"]" * 100_000, "body_too_deep"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "body_too_deep"),
        (json.dumps(event() | {"id": "evt_\ud800"}).encode(), "not_a_stripe_event"),
    ],
    ids=["utf16", "utf16le", "utf32", "deep-array", "deep-object", "surrogate-id"],
)
def test_a_signed_hostile_body_is_a_400(system: System, raw: bytes, code: str) -> None:
    answer = signed_post(system, raw)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == code


def test_ingest_still_takes_events_after_hostile_bodies(system: System) -> None:
    body = event()
    answer = signed_post(system, json.dumps(body).encode())
    assert answer.status_code == 200, answer.text
    assert answer.json()["event_id"] == body["id"]


# --- admin time filters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"since": "0001-01-01T00:00:00Z"}, "invalid_time"),
        ({"since": "0001-01-01T00:00:00+14:00"}, "invalid_time"),  # before year 1 in UTC
        ({"until": "9999-12-31T23:59:59-14:00"}, "invalid_time"),  # after 9999 in UTC
        ({"until": "9999-12-31T23:59:59Z"}, "invalid_time"),
        ({"since": "1999-12-31T23:59:59Z"}, "invalid_time"),
        ({"since": "2200-01-01T00:00:00"}, "invalid_time"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "invalid_window"),
        ({"since": "2026-01-01T12:00:00+14:00", "until": "2025-12-31T22:00:00Z"}, "invalid_window"),
    ],
)
def test_failures_refuse_a_time_outside_the_sane_range(
    system: System, params: dict[str, str], code: str
) -> None:
    answer = httpx.get(f"{system.support}/api/failures", params=params, headers=ADMIN, timeout=10)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == code
    assert answer.json()["message"]


def test_failures_take_a_sane_window(system: System) -> None:
    params = {"since": "2020-01-01T00:00:00+02:00", "until": "2026-01-01T00:00:00"}
    answer = httpx.get(f"{system.support}/api/failures", params=params, headers=ADMIN, timeout=10)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("since", "until", "said"),
    [
        ("0001-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "`since` must be between"),
        ("0001-01-01T00:00:00+14:00", "2026-01-01T00:00:00Z", "`since`"),
        ("2026-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "`until` must be between"),
        ("2026-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00", "`until`"),
        ("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z", "`until` must be after `since`"),
    ],
)
def test_replays_refuse_a_window_outside_the_sane_range(
    system: System, since: str, until: str, said: str
) -> None:
    body = {"integration": "circle", "since": since, "until": until, "dry_run": True}
    answer = httpx.post(f"{system.support}/api/replays", json=body, headers=ADMIN, timeout=10)
    assert answer.status_code == 422, answer.text
    assert said in json.dumps(answer.json())


def test_replays_take_a_sane_window(system: System) -> None:
    body = {"integration": "circle", "since": "2026-01-01T00:00:00Z", "dry_run": True}
    body["until"] = "2026-01-01T01:00:00+01:00"  # == since: refused, the window is empty
    assert httpx.post(f"{system.support}/api/replays", json=body, headers=ADMIN).status_code == 422
    body["until"] = "2026-01-01T02:00:00+01:00"
    answer = httpx.post(f"{system.support}/api/replays", json=body, headers=ADMIN, timeout=10)
    assert answer.status_code == 202, answer.text


# --- outside local mode -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hosted(system: System) -> Iterator[Hosted]:
    """An ingest and a support started as in production (`SWITCHBOARD_ENV=production`, real-looking
    secrets), on the session's Kafka and store."""
    run = uuid.uuid4().hex[:8]
    env = {k: v for k, v in system.env.items() if not k.startswith("SWITCHBOARD_SANDBOX")}
    env |= {
        "SWITCHBOARD_ENV": "production",
        "SWITCHBOARD_MONGODB_DATABASE": f"e2e_hosted_{run}",
        "SWITCHBOARD_KAFKA_GROUP_PREFIX": f"e2e-hosted-{run}",
        "SWITCHBOARD_STRIPE_WEBHOOK_SECRETS": f"whsec_{secrets.token_hex(32)}",
        "SWITCHBOARD_APP_TOKENS": secrets.token_urlsafe(32),
        "SWITCHBOARD_STRIPE_API_KEY": f"rk_test_{secrets.token_hex(24)}",
        "SWITCHBOARD_STATUS_TOKEN_SECRETS": secrets.token_hex(32),
        "SWITCHBOARD_ADMIN_TOKENS": secrets.token_urlsafe(32),
        "SWITCHBOARD_ZENDESK_TOKEN": secrets.token_hex(20),
        "SWITCHBOARD_ZENDESK_EMAIL": "bot@example.com",
    }
    specs = [s for s in default_specs(HOSTED_PORTS) if s.name in HOSTED_PORTS]
    log_dir = REPO / ".run" / "test" / "logs-hardening"
    tail = LogTail(*(log_dir / f"{name}.log" for name in HOSTED_PORTS))
    stack = Stack(specs, env, log_dir)
    stack.start(timeout=90)
    try:
        urls = {s.name: f"http://127.0.0.1:{s.port}" for s in specs}
        urls |= {f"{s.name}_metrics": f"http://127.0.0.1:{s.metrics_port}" for s in specs}
        yield Hosted(urls, tail)
    finally:
        stack.stop()


@dataclass
class Hosted:
    urls: dict[str, str]
    #: what the hosted services wrote since before they started
    tail: LogTail

    def __getitem__(self, name: str) -> str:
        return self.urls[name]


@pytest.mark.parametrize("service", ["ingest", "support"])
@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/docs/oauth2-redirect"])
def test_api_docs_are_off_outside_local_mode(
    system: System, hosted: Hosted, service: str, path: str
) -> None:
    answer = httpx.get(f"{hosted[service]}{path}", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"
    # ... and on in local mode, where the fuzz tests read them
    local = f"http://127.0.0.1:{PORTS[service]}"
    assert httpx.get(f"{local}{path}", timeout=10).status_code == 200


@pytest.mark.parametrize("service", ["ingest", "support"])
def test_hosted_metrics_are_on_their_own_port(hosted: Hosted, service: str) -> None:
    assert httpx.get(f"{hosted[service]}/metrics", timeout=10).status_code == 404
    assert httpx.get(f"{hosted[service + '_metrics']}/metrics", timeout=10).status_code == 200


def test_errors_are_json_and_every_line_written_is_json(
    system: System, hosted: Hosted, tmp_path: Path
) -> None:
    logs = system.stack.log_dir
    tail = LogTail(logs / "ingest.log", logs / "support.log")
    # what uvicorn logs itself (not HTTP at all), a 404, a 405, a body that is not JSON
    for base in (system.ingest, system.support, hosted["ingest"], hosted["support"]):
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(b"\x16\x03\x01\x02\x00 not http\r\n\r\n")
            raw.recv(1024)
        for method, path in (("GET", "/nowhere"), ("DELETE", "/healthz")):
            answer = httpx.request(method, f"{base}{path}", timeout=10)
            assert answer.status_code in (404, 405)
            assert answer.headers["content-type"].startswith("application/json")
            assert answer.json()["error"] in ("not_found", "method_not_allowed")
    signed_post(system, b"\xff\xfe{")
    signed_post(system, b"[" * 100_000)
    time.sleep(1)  # let the lines reach the files
    for name, lines in (("local", tail), ("hosted", hosted.tail)):
        into = tmp_path / name
        into.mkdir()
        result = lines.audit(into)
        assert result["counts"] == {"not_json": 0, "secret": 0, "email": 0}, result["findings"]
        assert result["lines"] > 0, name
