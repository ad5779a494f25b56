"""`switchboard status EMAIL` against support's admin API (`httpx.MockTransport`)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from services.cli.main import run
from services.cli.settings import CliSettings

from .conftest import Captured, deps

JANE = {
    "customer_id": "cus_jane",
    "email": "jane@example.com",
    "name": "Jane",
    "lifecycle": "active",
    "needs_support": True,
    "stripe_customer_id": "cus_S1",
}


def page(customer: dict[str, Any]) -> dict[str, Any]:
    return {
        "customer": {**customer, "version": 4},
        "integrations": {
            "circle": {
                "status": "failed",
                "reason": None,
                "attempts": 8,
                "since": "2025-03-01T09:00:05+00:00",
                "expected_at": None,
                "error": "503: Circle is down [maintenance]",
                "open_incident": {"ticket_id": 42},
            },
            "convertkit": {
                "status": "pending",
                "reason": "waiting",
                "attempts": 0,
                "since": "2025-03-01T09:00:01+00:00",
                "expected_at": "2025-03-01T09:03:00+00:00",
                "error": None,
                "open_incident": None,
            },
            "crm": {"status": "synced", "reason": None, "since": None, "error": None},
        },
        "timeline": [
            {
                "event_id": f"evt_{i}",
                "at": f"2025-03-01T09:00:{i:02d}+00:00",
                "items": [
                    {
                        "at": f"2025-03-01T09:00:{i:02d}+00:00",
                        "service": "ingest",
                        "outcome": "received",
                        "summary": f"Stripe webhook number {i} received",
                    }
                ],
            }
            for i in range(12)
        ],
        "failures": [],
        "incidents": [],
    }


def admin_api(customers: list[dict[str, Any]]) -> tuple[httpx.MockTransport, list[str]]:
    paths: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        paths.append(str(request.url.copy_with(scheme="http", host="x")))
        if request.url.path == "/api/customers":
            return httpx.Response(200, json={"customers": customers})
        wanted = request.url.path.rsplit("/", 1)[1]
        found = [c for c in customers if c["customer_id"] == wanted]
        if not found:
            return httpx.Response(404, json={"error": "customer_not_found", "message": "no"})
        return httpx.Response(200, json=page(found[0]))

    return httpx.MockTransport(answer), paths


async def test_a_customer_is_shown_with_each_integration(
    captured: Captured, settings: CliSettings
) -> None:
    transport, paths = admin_api([JANE])
    code = await run(["status", "jane@example.com"], deps(captured, settings, transport=transport))
    assert code == 0
    assert paths == [
        "http://x/api/customers?q=jane%40example.com",
        "http://x/api/customers/cus_jane",
    ]
    out = captured.out
    for shown in ("cus_jane", "jane@example.com", "active", "yes", "#42"):
        assert shown in out
    assert "failed (8 attempts)" in out
    assert "503: Circle is down [maintenance]" in out  # data, never read as rich markup
    assert "expected 2025-03-01 09:03:00" in out
    assert "synced" in out
    # the latest events only, with a count of the rest
    assert "number 11" in out
    assert "number 3 " not in out
    assert "4 earlier in the console" in out


async def test_json_is_the_customer_pages(captured: Captured, settings: CliSettings) -> None:
    transport, _ = admin_api([JANE])
    code = await run(
        ["status", "Jane@Example.com", "--json"], deps(captured, settings, transport=transport)
    )
    assert code == 0
    lines = captured.out.splitlines()
    assert len(lines) == 1
    answer = json.loads(lines[0])
    assert [p["customer"]["lifecycle"] for p in answer["customers"]] == ["active"]
    assert "Integrations" in captured.err


async def test_the_customer_who_has_the_address_now_is_the_one_shown(
    captured: Captured, settings: CliSettings
) -> None:
    former = {**JANE, "customer_id": "cus_old", "email": "jane@new.example.com"}
    transport, paths = admin_api([former, JANE])
    code = await run(["status", "jane@example.com"], deps(captured, settings, transport=transport))
    assert code == 0
    assert paths[-1] == "http://x/api/customers/cus_jane"
    assert len(paths) == 2


async def test_an_unknown_email_exits_1(captured: Captured, settings: CliSettings) -> None:
    transport, paths = admin_api([])
    code = await run(
        ["status", "nobody@example.com"], deps(captured, settings, transport=transport)
    )
    assert code == 1
    assert "no customer with that email" in captured.err
    assert captured.out == ""
    assert len(paths) == 1
