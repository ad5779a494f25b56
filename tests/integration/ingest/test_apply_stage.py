"""The batch apply stage on the real FerretDB and Kafka: what many events at once must still
guarantee, one customer per Stripe customer and changes applied in the order they happened."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from libs.contracts import Lifecycle

from .conftest import IngestOnStack as IngestService
from .test_accept import checkout_event

pytestmark = pytest.mark.integration


def invoice_failed(email: str, customer: str, created: int) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": "invoice.payment_failed",
        "created": created,
        "data": {
            "object": {
                "id": f"in_{uuid.uuid4().hex[:10]}",
                "object": "invoice",
                "customer": customer,
                "customer_email": email,
            }
        },
    }


async def accept_all(service: IngestService, events: list[dict[str, Any]]) -> None:
    for event in events:
        await service.accept(json.dumps(event).encode())
    await service.drain()


async def test_many_customers_in_one_batch_each_get_one_record(service: IngestService) -> None:
    emails = [f"batch.{i}.{uuid.uuid4().hex[:6]}@example.com" for i in range(60)]
    await accept_all(
        service, [checkout_event(e, f"cus_{uuid.uuid4().hex[:14]}", 1_700_000_000) for e in emails]
    )
    for email in emails:
        customer = await service.customers.find_by_email(email)
        assert customer is not None, email
        assert (customer.lifecycle, customer.version) == (Lifecycle.PAID, 1)
    records = service.events.events.find(
        {"status": {"$ne": "published"}, "type": "checkout.session.completed"}
    )
    assert [r["_id"] async for r in records if r.get("customer_id") is None] == []


async def test_events_of_one_customer_in_one_batch_apply_in_time_order(
    service: IngestService,
) -> None:
    email, stripe_id = f"order.{uuid.uuid4().hex[:8]}@example.com", f"cus_{uuid.uuid4().hex[:14]}"
    paid = checkout_event(email, stripe_id, created=1_700_000_100)
    late_failure = invoice_failed(
        email, stripe_id, created=1_700_000_000
    )  # older than the purchase
    newer_failure = invoice_failed(email, stripe_id, created=1_700_000_200)
    await accept_all(service, [paid, late_failure, newer_failure])

    customer = await service.customers.find_by_email(email)
    assert customer is not None
    assert customer.lifecycle is Lifecycle.PAST_DUE
    assert customer.version == 2  # lead→paid, paid→past_due; the stale one moved nothing
    assert await service.customers.collection.count_documents({"email_lower": email}) == 1
    outcomes = {
        e["id"]: (await service.events.get(e["id"]) or {}).get("outcome")
        for e in (paid, late_failure, newer_failure)
    }
    assert outcomes == {
        paid["id"]: "applied",
        late_failure["id"]: "stale",
        newer_failure["id"]: "applied",
    }


async def test_a_customer_written_by_someone_else_meanwhile_is_redone_not_overwritten(
    service: IngestService,
) -> None:
    email, stripe_id = f"cas.{uuid.uuid4().hex[:8]}@example.com", f"cus_{uuid.uuid4().hex[:14]}"
    await accept_all(service, [checkout_event(email, stripe_id, created=1_700_000_000)])
    before = await service.customers.find_by_email(email)
    assert before is not None

    # Another writer moves the record between this batch's read and its write.
    real_load = service.customers.snapshot

    async def load_then_interfere(ids: Any) -> Any:
        loaded = await real_load(ids)
        await service.customers.update(
            before.customer_id, lambda c: c.model_copy(update={"name": "Other"}) if c else None
        )
        service.customers.snapshot = real_load  # type: ignore[method-assign]
        return loaded

    service.customers.snapshot = load_then_interfere  # type: ignore[method-assign,assignment]
    failure = invoice_failed(email, stripe_id, created=1_700_000_500)
    await accept_all(service, [failure])

    after = await service.customers.find_by_email(email)
    assert after is not None
    assert after.lifecycle is Lifecycle.PAST_DUE  # the batch's change landed, through the redo
    assert after.name == "Other"  # and the other writer's change was not overwritten
    assert failure["id"] in after.recent_event_ids
