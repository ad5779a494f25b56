"""A 2xx is never lost: Kafka down for a while, or ingest killed mid-burst."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from sandbox.stripe.webhook import encode, sign
from tests.conftest import unique_email

from .conftest import System, wait_for
from .kafka_reader import published_event_ids

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SECRET = "whsec_local_dev_only"


def infra(command: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "deploy.local", command],
        cwd=REPO,
        check=True,
        env=os.environ,
        stdout=subprocess.DEVNULL,
    )


def purchase_events(system: System, count: int) -> list[tuple[str, str, bytes]]:
    events = []
    for _ in range(count):
        email = unique_email("durable")
        sent = system.trigger("purchase", email=email, deliver=False)
        events.append((sent["event_id"], email, encode(sent["event"])))
    return events


async def deliver(
    system: System,
    payloads: list[bytes],
    concurrency: int = 10,
    on_accepted: Callable[[int], None] = lambda _: None,
) -> list[int | None]:
    """POST each payload once; None where the connection failed (no answer, so no promise).
    `on_accepted` hears the running count of 200s."""
    semaphore = asyncio.Semaphore(concurrency)
    accepted = 0

    async def one(client: httpx.AsyncClient, payload: bytes) -> int | None:
        async with semaphore:
            headers = {
                "Stripe-Signature": sign(payload, SECRET, int(time.time())),
                "Content-Type": "application/json",
            }
            try:
                response = await client.post(
                    f"{system.ingest}/webhooks/stripe", content=payload, headers=headers
                )
            except httpx.HTTPError:
                return None
            if response.status_code == 200:
                nonlocal accepted
                accepted += 1
                on_accepted(accepted)
            return response.status_code

    async with httpx.AsyncClient(timeout=20) as client:
        return await asyncio.gather(*(one(client, p) for p in payloads))


def test_kafka_down_then_back_publishes_every_accepted_event_once(
    system: System, kafka_bootstrap: str
) -> None:
    events = purchase_events(system, 50)
    infra("stop-kafka")
    try:
        codes = asyncio.run(deliver(system, [payload for _, _, payload in events]))
        assert codes == [200] * 50  # accepted while Kafka is down: they are stored
    finally:
        infra("start")
    ids = {event_id for event_id, _, _ in events}

    def all_published() -> bool:
        counts = published_event_ids(kafka_bootstrap)
        return ids <= set(counts)

    wait_for(all_published, timeout=90, what="all 50 events on customer.events.v1")
    time.sleep(3)  # a wrong second publish would show up by now
    counts = published_event_ids(kafka_bootstrap)
    assert {event_id: counts[event_id] for event_id in ids} == dict.fromkeys(ids, 1)


def test_ingest_killed_mid_burst_loses_nothing_it_accepted(
    system: System, kafka_bootstrap: str
) -> None:
    events = purchase_events(system, 400)

    def kill_after_100(accepted: int) -> None:
        if accepted == 100:
            system.stack.kill("ingest")  # SIGKILL, in the middle of the burst

    codes = asyncio.run(
        deliver(system, [p for _, _, p in events], concurrency=8, on_accepted=kill_after_100)
    )
    accepted = [
        (event_id, email)
        for (event_id, email, _), code in zip(events, codes, strict=True)
        if code == 200
    ]
    print(f"accepted before the kill: {len(accepted)} of {len(events)}")
    assert 0 < len(accepted) < len(events)
    system.stack.restart("ingest")

    ids = {event_id for event_id, _ in accepted}
    wait_for(
        lambda: ids <= set(published_event_ids(kafka_bootstrap)),
        timeout=60,
        what="every accepted event to be published",
    )
    headers = {"Authorization": "Bearer local-app-token"}
    for _, email in accepted:
        response = httpx.get(
            f"{system.ingest}/v1/customers/status",
            params={"email": email},
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 200, email
        assert response.json()["lifecycle"] in ("paid", "active")
