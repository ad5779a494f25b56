"""Support on the real stack: a step that fails after its retries becomes one incident and one
Zendesk ticket with the context a person needs; a redelivered failure changes nothing; a replay
through the worker syncs the step, resolves the incident and solves the ticket. Also a bulk
replay after an outage, and the admin API's answers.

The sandbox's Circle fails on purpose (`system.fault`); circle_sync's default backoffs
(0.2 s base, 4 retries) keep a failing event to a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from libs.contracts import TOPIC_PARTITIONS, failure_topic
from tests.conftest import unique_email

from .conftest import System, circle_member, wait_for

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": "Bearer local-admin-token"}
APP = {"Authorization": "Bearer local-app-token"}


def api(system: System, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{system.support}{path}", headers=ADMIN, timeout=15, **kwargs)


def tickets_for(system: System, email: str) -> list[dict[str, Any]]:
    return [
        t
        for t in system.state()["zendesk"]["tickets"]
        if (t.get("external_id") or "").startswith("switchboard:") and email in t["description"]
    ]


def failed_step(system: System, event_id: str) -> dict[str, Any] | None:
    found = api(system, "GET", "/api/failures", params={"integration": "circle"}).json()
    return next((f for f in found["failures"] if f["event_id"] == event_id), None)


def needs_support(system: System, email: str) -> bool:
    response = httpx.get(
        f"{system.ingest}/v1/customers/status", params={"email": email}, headers=APP, timeout=10
    )
    return bool(response.json()["needs_support"])


def in_members(system: System, email: str) -> bool:
    member = circle_member(system.state(), email)
    return member is not None and "Members" in member["access_groups"]


def bootstrap(system: System) -> str:
    return system.env["SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS"]


async def _read_failure(servers: str, event_id: str) -> tuple[bytes, bytes]:
    topic = failure_topic("circle")
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(TOPIC_PARTITIONS[topic])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if record.value and json.loads(record.value)["event_id"] == event_id:
                        return record.key or b"", record.value
            positions = [await consumer.position(tp) for tp in partitions]
            if all(pos >= ends[tp] for pos, tp in zip(positions, partitions, strict=True)):
                break
    finally:
        await consumer.stop()
    raise AssertionError(f"no failure message for {event_id}")


async def _publish(servers: str, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=servers, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def deliver_failure_again(system: System, event_id: str) -> None:
    key, value = asyncio.run(_read_failure(bootstrap(system), event_id))
    asyncio.run(_publish(bootstrap(system), failure_topic("circle"), key, value))


def test_a_persistent_failure_makes_one_ticket_and_a_replay_resolves_it(system: System) -> None:
    email = unique_email("escalate")
    system.fault(provider="circle", status=503)
    try:
        event_id = system.trigger("purchase", email=email)["event_id"]
        step = wait_for(lambda: failed_step(system, event_id), 60, "the failed circle step")
        ticket = wait_for(lambda: tickets_for(system, email), 30, "the ticket")[0]
        customer_id = step["customer_id"]

        # One ticket, with everything a person needs and no secret.
        body = ticket["description"]
        customer = api(system, "GET", f"/api/customers/{customer_id}").json()["customer"]
        for fact in (
            email,
            customer["stripe_customer_id"],
            *customer["subscription_ids"],
            event_id,
            "checkout.session.completed",
            "Circle",
            f"Failed action: {step['action']}",
            f"Attempts: {step['attempts']}",
            "HTTP 503",
            "Trouble started:",
            f"/customers/{customer_id}",
        ):
            assert fact, fact
            assert fact in body, fact
        for secret in ("local-circle-token", "local-zendesk-token", "whsec_", "local-admin-token"):
            assert secret not in body
        assert step["attempts"] >= 4  # the first try and at least 3 retries
        wait_for(lambda: needs_support(system, email), 15, "needs_support to be set")

        # The same failure delivered again: still one ticket, and no comment for it.
        deliver_failure_again(system, event_id)
        time.sleep(3)
        again = tickets_for(system, email)
        assert [t["id"] for t in again] == [ticket["id"]]
        assert len(again[0]["comments"]) == 1
    finally:
        system.clear_faults()

    # The fault is gone: replay the step through the worker.
    answer = api(
        system, "POST", "/api/replays", json={"event_id": event_id, "integration": "circle"}
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["queued"] == 1
    wait_for(lambda: in_members(system, email), 30, "the replayed grant")
    wait_for(
        lambda: (failed_step(system, event_id) or {}).get("status") == "synced",
        30,
        "the step to show synced",
    )
    solved = wait_for(
        lambda: [t for t in tickets_for(system, email) if t["status"] == "solved"],
        30,
        "the ticket to be solved",
    )
    assert [t["id"] for t in solved] == [ticket["id"]]
    assert "Resolved" in solved[0]["comments"][-1]["body"]
    wait_for(lambda: not needs_support(system, email), 15, "needs_support to clear")
    listed = api(system, "GET", "/api/tickets").json()["tickets"]
    mine = [t for t in listed if t["customer_id"] == customer_id]
    assert [(t["ticket_id"], t["status"], t["ticket_status"]) for t in mine] == [
        (ticket["id"], "resolved", "solved")
    ]
    # Replaying a step that is synced is refused with a reason.
    refused = api(
        system, "POST", "/api/replays", json={"event_id": event_id, "integration": "circle"}
    )
    assert refused.status_code == 409
    assert refused.json()["error"] == "not_replayable"


def test_bulk_replay_after_an_outage_syncs_every_step_once(system: System) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    emails = [unique_email("outage") for _ in range(20)]
    system.fault(provider="circle", status=503)
    try:
        event_ids = [system.trigger("purchase", email=email)["event_id"] for email in emails]

        def all_failed() -> list[dict[str, Any]] | None:
            found = api(
                system,
                "GET",
                "/api/failures",
                params={"integration": "circle", "since": since.isoformat(), "status": "failed"},
            ).json()["failures"]
            mine = [f for f in found if f["event_id"] in event_ids]
            return mine if len(mine) == len(event_ids) else None

        wait_for(all_failed, 120, "20 failed circle steps")
    finally:
        system.clear_faults()
    until = datetime.now(UTC) + timedelta(seconds=1)
    window = {"integration": "circle", "since": since.isoformat(), "until": until.isoformat()}

    preview = api(system, "POST", "/api/replays", json={**window, "dry_run": True}).json()
    assert (preview["queued"], len(preview["replays"])) == (0, 20)
    answer = api(system, "POST", "/api/replays", json=window)
    assert answer.status_code == 202, answer.text
    assert answer.json()["queued"] == 20

    wait_for(lambda: all(in_members(system, e) for e in emails), 60, "every replayed grant")
    state = system.state()
    members = [m for m in state["circle"]["members"] if m["email"] in emails]
    assert len(members) == 20  # one member each: nobody created twice
    assert all(m["access_groups"] == ["Members"] for m in members)
    customer_ids = {f["customer_id"] for f in all_failed_or_synced(system, event_ids)}

    def replayed_syncs(customer_id: str) -> list[dict[str, Any]]:
        timeline = api(system, "GET", f"/api/customers/{customer_id}").json()["timeline"]
        return [
            item
            for event in timeline
            for item in event["items"]
            if item["kind"] == "sync"
            and item.get("integration") == "circle"
            and item["outcome"] == "synced"
            and item.get("replay_id")
        ]

    for customer_id in customer_ids:
        # support records the result a moment after the grant is visible in Circle
        wait_for(partial(replayed_syncs, customer_id), 30, f"the replay's result: {customer_id}")
        assert len(replayed_syncs(customer_id)) == 1, customer_id
    again = api(system, "POST", "/api/replays", json=window).json()
    assert again["queued"] == 0  # nothing failed is left in the window


def all_failed_or_synced(system: System, event_ids: list[str]) -> list[dict[str, Any]]:
    found = api(system, "GET", "/api/failures", params={"integration": "circle"}).json()
    return [f for f in found["failures"] if f["event_id"] in event_ids]


def test_search_finds_a_customer_by_each_id(system: System) -> None:
    email = unique_email("findme")
    event_id = system.trigger("purchase", email=email)["event_id"]

    def found(q: str) -> list[dict[str, Any]]:
        response = api(system, "GET", "/api/customers", params={"q": q})
        assert response.status_code == 200, response.text
        return list(response.json()["customers"])

    by_email = wait_for(lambda: found(email.upper()), 20, "the customer by email")
    customer_id = by_email[0]["customer_id"]
    page = api(system, "GET", f"/api/customers/{customer_id}").json()
    customer = page["customer"]
    queries = [
        event_id,
        customer["stripe_customer_id"],
        *customer["subscription_ids"],
        *customer["payment_ids"],
    ]
    for q in queries:
        assert [c["customer_id"] for c in found(q)] == [customer_id], q
    kinds = [item["kind"] for item in page["timeline"][0]["items"]]
    assert kinds[:2] == ["webhook", "state"]
    wait_for(
        lambda: any(
            item["kind"] == "sync"
            for event in api(system, "GET", f"/api/customers/{customer_id}").json()["timeline"]
            for item in event["items"]
        ),
        20,
        "worker outcomes on the timeline",
    )


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "error"),
    [
        ("GET", "/api/customers", {"params": {"q": "x"}}, 422, "invalid_request"),
        ("GET", "/api/customers/cust_nobody", {}, 404, "customer_not_found"),
        ("GET", "/api/failures", {"params": {"integration": "aol"}}, 422, "unknown_integration"),
        ("GET", "/api/failures", {"params": {"since": "yesterday"}}, 422, "invalid_request"),
        (
            "POST",
            "/api/replays",
            {"json": {"integration": "circle", "event_id": "evt_never"}},
            404,
            "step_not_found",
        ),
    ],
)
def test_wrong_input_gets_a_specific_error(
    system: System, method: str, path: str, kwargs: dict[str, Any], status: int, error: str
) -> None:
    response = api(system, method, path, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    unauthenticated = httpx.request(method, f"{system.support}{path}", timeout=10, **kwargs)
    assert unauthenticated.status_code == 401
