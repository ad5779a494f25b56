"""Ingest's use cases and handlers on its fakes and FastStream's test broker (no servers):
what a webhook publishes and what the customer becomes, through the same stage, relay,
publisher and routers as in production."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from libs.contracts import (
    SUPPORT_INCIDENTS,
    SYNC_RESULTS,
    IncidentChanged,
    IncidentStatus,
    Lifecycle,
    SyncOutcome,
    SyncResult,
)
from services.ingest.canonical import CanonicalCustomer

from .world import ENABLED, checkout, email_changed, refund, running


def new_email() -> str:
    return f"jane.{uuid.uuid4().hex[:8]}@example.com"


async def test_a_new_purchase_is_accepted_applied_and_published() -> None:
    async with running() as (world, _):
        email = new_email()
        assert await world.accept(checkout(email, "cus_1")) == [False]
        customer = await world.customer_of(email)
        assert (customer.lifecycle, customer.version) == (Lifecycle.PAID, 1)
        assert [(e.customer_id, e.version, e.lifecycle) for e in world.published] == [
            (customer.customer_id, 1, Lifecycle.PAID)
        ]


async def test_a_duplicate_delivery_has_one_effect() -> None:
    async with running() as (world, _):
        email, event = new_email(), checkout(new_email(), "cus_2")
        event["data"]["object"]["customer_details"]["email"] = email
        assert await world.accept(event, event) == [False, True]
        assert await world.accept(event) == [True]
        customer = await world.customer_of(email)
        assert customer.version == 1
        assert [e.version for e in world.published] == [1]


async def test_a_refund_before_its_checkout_ends_canceled() -> None:
    async with running() as (world, _):
        email, t = new_email(), 1_700_000_000
        late_refund = refund("cus_3", created=t + 60)
        late_refund["data"]["object"]["billing_details"]["email"] = email
        await world.accept(late_refund)
        await world.accept(checkout(email, "cus_3", created=t))
        customer = await world.customer_of(email)
        # the lifecycle is the fold of both in time order, whatever order they came in
        assert customer.lifecycle is Lifecycle.CANCELED
        assert world.published[-1].lifecycle is Lifecycle.CANCELED
        assert len({e.customer_id for e in world.published}) == 1


async def test_an_email_change_moves_the_identity() -> None:
    async with running() as (world, _):
        old, new, t = new_email(), new_email(), 1_700_000_000
        await world.accept(checkout(old, "cus_4", created=t))
        await world.accept(email_changed("cus_4", old, new, created=t + 10))
        moved = await world.customer_of(new)
        assert moved is not None
        assert moved.email == new
        assert old in moved.previous_emails
        assert await world.customer_of(old) is None
        assert world.published[-1].email == new


async def test_a_lost_compare_and_set_is_redone_not_overwritten() -> None:
    async with running() as (world, _):
        email, t = new_email(), 1_700_000_000
        await world.accept(checkout(email, "cus_5", created=t))
        customer = await world.customer_of(email)
        others: list[str] = []

        def another_writer(record_id: str) -> None:
            if not others:  # once: the stage's first write loses to it
                current = world.customers._read(record_id)[0]
                assert isinstance(current, CanonicalCustomer)
                others.append(record_id)
                world.customers.put(record_id, current.model_copy(update={"name": "Other"}))

        world.customers.interfere = another_writer
        await world.accept(refund("cus_5", created=t + 60))
        after = await world.customer_of(email)
        assert others == [customer.customer_id]
        assert after.lifecycle is Lifecycle.CANCELED  # the change landed, through the redo
        assert after.name == "Other"  # and the other writer's was kept
        assert world.published[-1].lifecycle is Lifecycle.CANCELED


def result(customer_id: str, integration: str, version: int = 1) -> SyncResult:
    return SyncResult(
        event_id=f"evt_{uuid.uuid4().hex[:12]}",
        customer_id=customer_id,
        version=version,
        integration=integration,
        outcome=SyncOutcome.SYNCED,
        attempts=1,
        at=datetime.now(UTC),
    )


async def test_sync_results_move_paid_to_active_and_publish_the_follow_up_once() -> None:
    async with running() as (world, kafka):
        email = new_email()
        await world.accept(checkout(email, "cus_6"))
        cid = (await world.customer_of(email)).customer_id
        batch = [result(cid, name).to_bytes() for name in ENABLED]
        await kafka.publish_batch(*batch, topic=SYNC_RESULTS)
        await world.ingest.service.drain()
        await kafka.publish_batch(*batch, topic=SYNC_RESULTS)  # redelivered
        await world.ingest.service.drain()
        customer = await world.customer_of(email)
        assert (customer.lifecycle, customer.version) == (Lifecycle.ACTIVE, 2)
        assert [(e.version, e.lifecycle) for e in world.published] == [
            (1, Lifecycle.PAID),
            (2, Lifecycle.ACTIVE),
        ]


async def test_an_open_incident_sets_needs_support_and_its_close_clears_it() -> None:
    async with running() as (world, kafka):
        email = new_email()
        await world.accept(checkout(email, "cus_7"))
        cid = (await world.customer_of(email)).customer_id

        def incident(status: IncidentStatus) -> bytes:
            change = IncidentChanged(
                incident_id="inc_1",
                customer_id=cid,
                integration="circle",
                status=status,
                at=datetime.now(UTC),
            )
            return change.to_bytes()

        await kafka.publish(incident(IncidentStatus.OPEN), SUPPORT_INCIDENTS)
        assert (await world.customer_of(email)).needs_support is True
        await kafka.publish(incident(IncidentStatus.RESOLVED), SUPPORT_INCIDENTS)
        customer = await world.customer_of(email)
        assert customer.needs_support is False
        assert customer.version == 1  # no downstream system acts on it: no new version
