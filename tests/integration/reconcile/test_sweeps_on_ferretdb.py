"""The sweeps store, the canonical-state reader and the scheduler on the real FerretDB: one
replica holds an integration's lease at a time, a requested sweep is taken once, the schedule
waits its interval, a provider's monthly quota share stops sweeps, and shadow mode sweeps as a
dry run. Canonical customers come back once each, in pages, as the state a worker is sent."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from libs.contracts import Lifecycle
from libs.reconcile.fakes import RecordingOutlet
from libs.reconcile.records import Progress, SweepState
from libs.reconcile.schedule import SweepScheduler
from libs.reconcile.store import DriftMemory, MongoSweepStore
from libs.reconcile.sweep import SweepContext
from libs.runtime.clock import now
from libs.runtime.dedupe import MongoDedupe
from services.ingest.canonical import CanonicalCustomer
from services.ingest.canonical_states import MongoCanonicalStates
from services.ingest.customers import MongoCustomers

from .conftest import make_world

pytestmark = pytest.mark.integration


async def test_one_replica_holds_the_lease_and_a_request_is_taken_once(mongo_db: Any) -> None:
    store = MongoSweepStore(mongo_db)
    assert await store.lease("circle", "one", 60)
    assert not await store.lease("circle", "two", 60)
    assert await store.lease("circle", "one", 60)  # renewed by its holder
    assert await store.lease("crm", "two", 60)  # another integration's lease is its own
    await store.release("circle", "one")
    assert await store.lease("circle", "two", 60)
    assert await store.lease("kit", "a", -1)  # expired at once: anyone may take it
    assert await store.lease("kit", "b", 60)

    asked = await store.request("circle", dry_run=True, by="cli")
    assert (await store.next_requested("circle")) == asked
    started = await store.start(asked.sweep_id, "one")
    assert started is not None
    assert started.state is SweepState.RUNNING
    assert await store.start(asked.sweep_id, "two") is None
    await store.progress(asked.sweep_id, Progress(pages=3, calls=4, phase="reading"))
    assert (await store.calls_since("circle", now().replace(day=1, hour=0))) == 4
    assert await store.next_requested("circle") is None


async def test_drift_memory_round_trips(mongo_db: Any) -> None:
    store = MongoSweepStore(mongo_db)
    memory = DriftMemory(kinds=("missing_access",), first_found_at=now(), repair_event_id="r1")
    await store.remember("circle", "cust_1", memory)
    assert await store.drift("circle") == {"cust_1": memory}
    assert await store.drift("crm") == {}
    await store.forget("circle", "cust_1")
    assert await store.drift("circle") == {}


async def test_canonical_customers_come_once_each_in_pages(mongo_db: Any) -> None:
    customers = MongoCustomers(mongo_db)
    for i, lifecycle in enumerate([Lifecycle.ACTIVE, Lifecycle.LEAD, Lifecycle.CANCELED]):
        customer = CanonicalCustomer(
            _id=f"cust_{i}",
            email=f"p{i}@example.com",
            previous_emails=(f"old{i}@example.com",),
            lifecycle=lifecycle,
            version=0 if lifecycle is Lifecycle.LEAD else 2,
        )
        await customers.update(customer.customer_id, lambda _, c=customer: c)
    states = MongoCanonicalStates(mongo_db)
    pages = [page async for page in states.pages(2)]
    assert [len(page) for page in pages] == [2, 1]
    known = {k.customer_id: k for page in pages for k in page}
    assert sorted(known) == ["cust_0", "cust_1", "cust_2"]
    first = known["cust_0"]
    assert first.emails == ("p0@example.com", "old0@example.com")
    assert first.event is not None
    assert first.event.lifecycle is Lifecycle.ACTIVE
    assert first.event.version == 2
    assert known["cust_1"].event is None  # a lead nothing was published for


async def scheduler(mongo_db: Any, sandbox: FastAPI, **settings: Any) -> SweepScheduler:
    world = await make_world(sandbox, "circle", **settings)
    ctx = SweepContext(
        auditor=world.integration,
        settings=world.settings,
        dedupe=MongoDedupe(mongo_db, "circle"),
        canonical=MongoCanonicalStates(mongo_db),
        store=MongoSweepStore(mongo_db),
        outlet=RecordingOutlet(),
    )
    return SweepScheduler(ctx)


async def test_the_schedule_sweeps_once_per_interval_and_requests_come_first(
    mongo_db: Any, sandbox: FastAPI
) -> None:
    sweeps = await scheduler(mongo_db, sandbox, reconcile_interval_seconds=3600)
    first = await sweeps.once()
    assert first is not None
    assert (first.state, first.requested_by) == (SweepState.DONE, "schedule")
    assert await sweeps.once() is None  # not due for an hour
    asked = await sweeps.ctx.store.request("circle", dry_run=True, by="cli")
    ran = await sweeps.once()
    assert ran is not None
    assert (ran.sweep_id, ran.state, ran.dry_run) == (asked.sweep_id, SweepState.DONE, True)
    # another replica holding the lease runs nothing
    await sweeps.ctx.store.lease("circle", "someone-else", 60)
    await sweeps.ctx.store.request("circle", dry_run=False, by="cli")
    assert await sweeps.once() is None


async def test_off_means_only_on_demand_and_shadow_sweeps_as_a_dry_run(
    mongo_db: Any, sandbox: FastAPI
) -> None:
    sweeps = await scheduler(mongo_db, sandbox, reconcile_interval_seconds=0, mode="shadow")
    assert await sweeps.once() is None  # interval 0: no scheduled sweep
    await sweeps.ctx.store.request("circle", dry_run=False, by="cli")
    ran = await sweeps.once()
    assert ran is not None
    assert (ran.state, ran.dry_run) == (SweepState.DONE, True)


async def test_a_spent_monthly_quota_share_skips_the_sweep_with_the_reason(
    mongo_db: Any, sandbox: FastAPI
) -> None:
    sweeps = await scheduler(mongo_db, sandbox, reconcile_interval_seconds=0, monthly_quota=20)
    # 20 % of 20 calls = 4: the first sweep (two groups: an id and a page each) fits
    await sweeps.ctx.store.request("circle", dry_run=False, by="cli")
    first = await sweeps.once()
    assert first is not None
    assert first.state is SweepState.DONE
    await sweeps.ctx.store.request("circle", dry_run=False, by="cli")
    second = await sweeps.once()
    assert second is not None
    assert second.state is SweepState.SKIPPED
    assert "monthly quota" in (second.reason or "")
