"""A step that began writing to the provider and never recorded what it did (killed, the store
gone, or an answer that never came) leaves its record unsettled, and the customer's next step
reads the provider before planning, instead of believing a ledger that may be behind it.

The soak found the case: a purchase granted `Members`, the store went away before the record,
and the refund behind it (the purchase's retry superseded by it) planned from the old ledger,
found nothing to revoke and reported synced, with the refunded buyer still a member. The same
runs against the real FerretDB in tests/integration/runtime/test_dedupe.py and under kills and
outages in tests/e2e/test_soak.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
from prometheus_client import CollectorRegistry

from libs.contracts import CustomerEvent, Lifecycle, has_access
from libs.runtime.dedupe import Applied, InMemoryDedupe, lookup
from libs.runtime.errors import error_for_status
from libs.runtime.ledger import Ledger, carry_out
from libs.runtime.repository import Change, Snapshot, Updated
from libs.runtime.worker import WorkerLoop
from libs.runtime.worker_metrics import WorkerMetrics

from .test_worker_loop import FakeBroker, Journal, event, settings

GROUP = "Members"


@dataclass
class GroupProvider:
    """A provider holding one group per address; counts reads and writes."""

    groups: dict[str, set[str]] = field(default_factory=dict)
    reads: int = 0
    writes: list[str] = field(default_factory=list)
    failing: bool = False

    def read(self, email: str) -> set[str]:
        self.reads += 1
        return set(self.groups.get(email, set()))

    def write(self, email: str, action: str) -> None:
        held = self.groups.setdefault(email, set())
        # the write lands even when its answer is lost (a timeout after the provider applied it)
        held.add(GROUP) if action == "grant" else held.discard(GROUP)
        self.writes.append(action)
        if self.failing:
            raise error_for_status("circle", 503, "unavailable")


class GroupIntegration:
    """Plans against the ledger like every provider integration (`ProviderIntegration.sync`):
    trusted, it believes the ledger; untrusted, it reads the provider first."""

    name: ClassVar[str] = "circle"

    def __init__(self, provider: GroupProvider) -> None:
        self.provider = provider

    async def sync(
        self, event: CustomerEvent, *, dry_run: bool, ledger: Ledger | None = None
    ) -> list[str]:
        ledger = ledger or Ledger(trusted=False)
        email = event.email
        held = set(ledger.state.get("groups", []))
        if not ledger.trusted:
            held = self.provider.read(email)
        wanted = {GROUP} if has_access(event.lifecycle) else set()

        def plan() -> list[str]:
            return ["grant"] if wanted - held else ["revoke"] if held - wanted else []

        async def execute(action: str) -> bool:
            self.provider.write(email, action)
            held.add(GROUP) if action == "grant" else held.discard(GROUP)
            return False

        def save() -> None:
            ledger.state = {"groups": sorted(held)}

        if dry_run:
            return plan()
        return await carry_out(self.name, plan, execute, save, ledger.before_writes)

    async def aclose(self) -> None:
        pass


class Store(InMemoryDedupe):
    """The in-memory dedupe store (it counts `writes`); `lose_record` makes the write after a
    step's mark fail, as if the worker died or the store went away between calls and record."""

    def __init__(self) -> None:
        super().__init__()
        self.lose_record = False
        self.down = False

    async def update(
        self, record_id: str, change: Change[Applied], snapshot: Snapshot[Applied] | None = None
    ) -> Updated[Applied]:
        if self.down:
            raise ConnectionError("the store is down")
        updated = await super().update(record_id, change, snapshot)
        if self.lose_record and updated.after is not None and updated.after.unsettled:
            self.down = True  # the mark is in; whatever comes next is lost
        return updated


class World:
    def __init__(self, **overrides: Any) -> None:
        self.provider = GroupProvider()
        self.store = Store()
        self.loop = WorkerLoop(
            GroupIntegration(self.provider),  # type: ignore[arg-type]
            settings(**overrides),
            FakeBroker(Journal()),  # type: ignore[arg-type]
            self.store,
            WorkerMetrics(CollectorRegistry()),
        )

    async def record(self) -> Applied:
        return await lookup(self.store, "cust_1")


def purchase(version: int = 1) -> CustomerEvent:
    return event(version=version, event_id=f"evt_buy_{version}")


def refund(version: int) -> CustomerEvent:
    return event(version=version, event_id=f"evt_refund_{version}").model_copy(
        update={"lifecycle": Lifecycle.CANCELED}
    )


async def test_a_step_with_writes_marks_its_record_first_and_settles_it() -> None:
    world = World()
    assert (await world.loop.process(purchase())).outcome == "synced"
    assert world.provider.groups == {"jane@example.com": {GROUP}}
    assert world.store.writes == 2  # the mark, then the record
    record = await world.record()
    assert (record.unsettled, record.version, record.ledger) == (False, 1, {"groups": [GROUP]})


async def test_a_step_with_nothing_to_write_costs_no_mark() -> None:
    world = World()
    await world.loop.process(purchase())
    writes = world.store.writes
    # the next version asks for what the ledger says is there: one record, no mark, no read
    active = purchase(2).model_copy(update={"lifecycle": Lifecycle.ACTIVE})
    assert (await world.loop.process(active)).outcome == "synced"
    assert world.store.writes == writes + 1
    assert world.provider.reads == 0


async def test_a_refund_after_a_purchase_that_never_recorded_its_grant_revokes_it() -> None:
    world = World()
    world.store.lose_record = True
    with pytest.raises(ConnectionError):  # handed back: the step is requeued
        await world.loop.process(purchase())
    assert world.provider.groups == {"jane@example.com": {GROUP}}  # the grant landed
    assert (await world.record()).unsettled  # ... and the record says it may have
    world.store.down = world.store.lose_record = False
    # the purchase's retry and the refund, held together: the refund supersedes the purchase
    await world.loop.run_held([purchase(), refund(2)])
    assert world.provider.groups == {"jane@example.com": set()}  # access is gone
    assert world.provider.reads == 1  # read once, because the ledger could not be believed
    record = await world.record()
    assert (record.unsettled, record.version, record.ledger) == (False, 2, {"groups": []})


async def test_a_store_down_before_the_first_write_writes_nothing_to_the_provider() -> None:
    world = World()
    world.store.down = True
    with pytest.raises(ConnectionError):  # our store, not the provider: handed back, no ticket
        await world.loop.process(purchase())
    assert world.provider.writes == []


async def test_a_failed_step_stays_unsettled_and_the_next_step_reads_first() -> None:
    world = World()
    await world.loop.process(purchase())  # granted and recorded: the desired key is known
    world.provider.failing = True  # the revoke lands, but its answer is a 503, every time
    assert (await world.loop.process(refund(2))).outcome == "failed"
    record = await world.record()
    assert record.unsettled
    assert record.ledger == {"groups": [GROUP]}  # the ledger never saw the revoke confirmed
    world.provider.failing = False
    # buying again asks for what the last synced version held; the provider no longer has it
    assert (await world.loop.process(purchase(3))).outcome == "synced"
    assert world.provider.groups == {"jane@example.com": {GROUP}}
    assert world.provider.reads == 1
    assert not (await world.record()).unsettled


async def test_a_settled_record_is_believed_without_a_read() -> None:
    world = World()
    await world.loop.process(purchase())
    await world.loop.process(refund(2))
    assert world.provider.reads == 0
    assert world.provider.writes == ["grant", "revoke"]
