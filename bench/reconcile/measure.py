"""One reconcile sweep of one integration, measured: `libs.reconcile.sweep.run_sweep` as a
worker runs it (FerretDB's canonical customers and worker records, the sweeps store on FerretDB,
the sweep's own pacer at `reconcile_budget_share` of the worker's limit), with an outlet that
counts repairs instead of publishing them. The worker's own pacer (`WorkerMetrics.budget`) is
left out: no step competes with the sweep here, so only the sweep's pacer applies.

Where the time goes: reading the provider (of which waiting for the pacer), reading FerretDB
(canonical customers and worker records), and the rest (judging, writing corrected ledgers,
drift memory and progress)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, cast

from pymongo.asynchronous.database import AsyncDatabase

from libs.reconcile.fakes import RecordingOutlet
from libs.reconcile.ports import Auditable, KnownCustomer, PageTurns, ProviderView
from libs.reconcile.store import MongoSweepStore
from libs.reconcile.sweep import SweepContext, run_sweep
from libs.runtime.dedupe import Applied, MongoDedupe
from libs.runtime.repository import Change, Snapshot, Updated
from services.ingest.canonical_states import MongoCanonicalStates

from .world import PROVIDER, World

Document = dict[str, Any]


@dataclass
class Clocks:
    """Seconds spent, by part of the sweep."""

    provider: float = 0.0
    pacer_wait: float = 0.0
    canonical_reads: float = 0.0
    record_reads: float = 0.0
    ledger_writes: float = 0.0


class TimedCanonical(MongoCanonicalStates):
    def __init__(self, db: AsyncDatabase[Document], clocks: Clocks) -> None:
        super().__init__(db)
        self.clocks = clocks

    async def pages(self, size: int) -> AsyncIterator[list[KnownCustomer]]:
        pages = super().pages(size)
        while True:
            started = time.monotonic()
            try:
                page = await anext(pages)
            except StopAsyncIteration:
                return
            finally:
                self.clocks.canonical_reads += time.monotonic() - started
            yield page


class TimedDedupe(MongoDedupe):
    def __init__(self, db: AsyncDatabase[Document], integration: str, clocks: Clocks) -> None:
        super().__init__(db, integration)
        self.clocks = clocks

    async def get_many(self, record_ids: Iterable[str]) -> dict[str, Applied]:
        started = time.monotonic()
        try:
            return await super().get_many(record_ids)
        finally:
            self.clocks.record_reads += time.monotonic() - started

    async def update(
        self, record_id: str, change: Change[Applied], snapshot: Snapshot[Applied] | None = None
    ) -> Updated[Applied]:
        started = time.monotonic()
        try:
            return await super().update(record_id, change, snapshot)
        finally:
            self.clocks.ledger_writes += time.monotonic() - started


class TimedAuditor:
    """The integration, with the time its `observe` (the provider pages) takes; everything
    else is the integration's own (`__getattr__`)."""

    def __init__(self, inner: Any, clocks: Clocks) -> None:
        self.inner, self.clocks = inner, clocks

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def observe(self, turns: PageTurns) -> ProviderView:
        started = time.monotonic()
        try:
            view: ProviderView = await self.inner.observe(turns)
            return view
        finally:
            self.clocks.provider += time.monotonic() - started
            self.clocks.pacer_wait += float(getattr(turns, "waited", 0.0))


async def sweep_once(world: World, db: AsyncDatabase[Document], name: str) -> dict[str, Any]:
    """Run one sweep of `name` and return its figures."""
    integration = world.integrations[name]
    clocks, outlet, store = Clocks(), RecordingOutlet(), MongoSweepStore(db)
    ctx = SweepContext(
        auditor=cast(Auditable, TimedAuditor(integration, clocks)),
        settings=integration.settings,
        dedupe=TimedDedupe(db, name, clocks),
        canonical=TimedCanonical(db, clocks),
        store=store,
        outlet=outlet,
    )
    requested = await store.request(name, dry_run=False, by="bench")
    started_record = await store.start(requested.sweep_id, "bench")
    assert started_record is not None
    started = time.monotonic()
    record = await run_sweep(ctx, started_record)
    seconds = time.monotonic() - started
    async with world.client() as client:
        state = (await client.get("/_sandbox/state")).json()[PROVIDER[name]]
    summary = record.summary
    assert summary is not None
    reads = clocks.canonical_reads + clocks.record_reads
    other = seconds - clocks.provider - reads - clocks.ledger_writes
    return {
        "integration": name,
        "provider": PROVIDER[name],
        "state": record.state.value,
        "seconds": round(seconds, 2),
        "sandbox_calls": state["calls"],
        "sandbox_reads": state["reads"],
        "sandbox_requests": state["requests"],
        "rejected_429": sum(state["rejected"].values()),
        "sweep_calls": summary.calls,
        "pages": record.progress.pages,
        "checked": summary.checked,
        "found": {k: v for k, v in summary.found.items() if v},
        "repaired": summary.repaired,
        "reported": summary.reported,
        "repairs_queued": len(outlet.repairs),
        "tickets": len(outlet.tickets),
        "skipped_in_flight": record.skipped_in_flight,
        "parts_s": {
            "provider_pages": round(clocks.provider, 2),
            "of_which_pacer_wait": round(clocks.pacer_wait, 2),
            "ferret_reads": round(reads, 2),
            "of_which_customers": round(clocks.canonical_reads, 2),
            "of_which_records": round(clocks.record_reads, 2),
            "ledger_writes": round(clocks.ledger_writes, 2),
            "judging_and_store": round(other, 2),
        },
    }
