"""Sync outcomes taken in batches, on the real FerretDB and Kafka: every result of a batch lands,
in order per customer, the last confirmation moves paid -> active, and taking the same batch
again (a redelivery) changes nothing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from libs.contracts import Lifecycle, SyncOutcome, SyncResult
from services.ingest.canonical import step_of
from services.ingest.service import IngestService

from .test_accept import checkout_event

pytestmark = pytest.mark.integration

ENABLED = ("circle", "convertkit", "crm")


def result(
    customer_id: str, integration: str, outcome: SyncOutcome, attempts: int = 1
) -> SyncResult:
    return SyncResult(
        event_id=f"evt_{uuid.uuid4().hex[:12]}",
        customer_id=customer_id,
        version=1,
        integration=integration,
        outcome=outcome,
        attempts=attempts,
        at=datetime.now(UTC),
    )


async def test_a_batch_of_outcomes_lands_whole_and_a_redelivery_changes_nothing(
    service: IngestService,
) -> None:
    emails = [f"results.{i}.{uuid.uuid4().hex[:6]}@example.com" for i in range(30)]
    for email in emails:
        event = checkout_event(email, f"cus_{uuid.uuid4().hex[:14]}", 1_700_000_000)
        await service.accept(json.dumps(event).encode())
    await service.drain()
    customers = [await service.store.find_by_email(e) for e in emails]
    ids = [c.customer_id for c in customers if c is not None]
    assert len(ids) == len(emails)

    batch = []
    for cid in ids:
        # circle retries, then syncs; the others sync at once: in order, per customer
        batch.append(result(cid, "circle", SyncOutcome.RETRYING))
        batch += [result(cid, name, SyncOutcome.SYNCED) for name in ENABLED]
    await service.record_results(batch, ENABLED)
    for cid in ids:
        customer = await service.store.load_customer(cid)
        assert customer is not None
        assert customer.lifecycle is Lifecycle.ACTIVE  # every integration confirmed version 1
        recorded = {n: (s.status, s.version) for n, s in customer.integrations.items()}
        assert recorded == dict.fromkeys(ENABLED, ("synced", 1))
        # the `active` follow-up (version 2) is published: each step is queued for it
        assert {step_of(customer, n).reason for n in ENABLED} == {"queued"}

    before = {cid: await service.store.load_customer(cid) for cid in ids}
    await service.record_results(batch, ENABLED)  # redelivered
    after = {cid: await service.store.load_customer(cid) for cid in ids}
    assert {c: (x.lifecycle, x.version) for c, x in after.items() if x} == {
        c: (x.lifecycle, x.version) for c, x in before.items() if x
    }
