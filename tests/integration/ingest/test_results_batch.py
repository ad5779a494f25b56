"""Sync outcomes taken in batches, on the real FerretDB and Kafka: every result of a batch lands,
in order per customer, the last confirmation moves paid -> active, and taking the same batch
again (a redelivery) changes nothing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from libs.contracts import Lifecycle, SyncOutcome, SyncResult
from services.ingest.canonical import step_of

from .conftest import IngestOnStack as IngestService
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
    customers = [await service.customers.find_by_email(e) for e in emails]
    ids = [c.customer_id for c in customers if c is not None]
    assert len(ids) == len(emails)

    batch = []
    for cid in ids:
        # circle retries, then syncs; the others sync at once: in order, per customer
        batch.append(result(cid, "circle", SyncOutcome.RETRYING))
        batch += [result(cid, name, SyncOutcome.SYNCED) for name in ENABLED]
    await service.record_results(batch, ENABLED)
    for cid in ids:
        customer = await service.customers.get(cid)
        assert customer is not None
        assert customer.lifecycle is Lifecycle.ACTIVE  # every integration confirmed version 1
        recorded = {n: (s.status, s.version) for n, s in customer.integrations.items()}
        assert recorded == dict.fromkeys(ENABLED, ("synced", 1))
        # the `active` follow-up (version 2) is published: each step is queued for it
        assert {step_of(customer, n).reason for n in ENABLED} == {"queued"}

    before = {cid: await service.customers.get(cid) for cid in ids}
    await service.record_results(batch, ENABLED)  # redelivered
    after = {cid: await service.customers.get(cid) for cid in ids}
    assert {c: (x.lifecycle, x.version) for c, x in after.items() if x} == {
        c: (x.lifecycle, x.version) for c, x in before.items() if x
    }


async def confirmed_customer(service: IngestService) -> str:
    email = f"confirm.{uuid.uuid4().hex[:8]}@example.com"
    event = checkout_event(email, f"cus_{uuid.uuid4().hex[:14]}", 1_700_000_000)
    await service.accept(json.dumps(event).encode())
    await service.drain()
    customer = await service.customers.find_by_email(email)
    assert customer is not None
    return customer.customer_id


async def test_a_redelivered_batch_publishes_a_confirmation_a_crash_cut_short(
    service: IngestService, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await confirmed_customer(service)
    batch = [result(cid, name, SyncOutcome.SYNCED) for name in ENABLED]

    async def crash(*_: object, **__: object) -> None:
        raise ConnectionError("killed between the customer's write and the confirmation")

    with monkeypatch.context() as patch:
        patch.setattr(service.publisher, "publish_internal", crash)
        with pytest.raises(ConnectionError):
            await service.record_results(batch, ENABLED)
    customer = await service.customers.get(cid)
    assert customer is not None
    assert customer.lifecycle is Lifecycle.ACTIVE  # written; its `active` event is not
    assert await service.events.get(f"sb_{cid}_v{customer.version}") is None

    await service.record_results(batch, ENABLED)  # the batch, redelivered
    assert await service.events.get(f"sb_{cid}_v{customer.version}") is not None
    await service.record_results(batch, ENABLED)  # and again: still one, nothing changes
    again = await service.customers.get(cid)
    assert again is not None
    assert (again.lifecycle, again.version) == (Lifecycle.ACTIVE, customer.version)


async def test_a_confirmation_is_published_when_a_later_write_made_ours_look_lost(
    service: IngestService, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await confirmed_customer(service)
    batch = [result(cid, name, SyncOutcome.SYNCED) for name in ENABLED]
    collection = service.customers.collection
    bulk_write = collection.bulk_write

    async def write_then_another_writer(*args: Any, **kwargs: Any) -> Any:
        written = await bulk_write(*args, **kwargs)  # ours wins...
        await service.customers.update(
            cid, lambda c: c.model_copy(update={"needs_support": True}) if c else None
        )
        return written  # ...and a write right after it makes the check call ours lost

    monkeypatch.setattr(collection, "bulk_write", write_then_another_writer)
    await service.record_results(batch, ENABLED)
    customer = await service.customers.get(cid)
    assert customer is not None
    assert customer.lifecycle is Lifecycle.ACTIVE
    assert await service.events.get(f"sb_{cid}_v{customer.version}") is not None
