"""The shared worker loop's decisions and their order, with in-memory stand-ins for Kafka, the
dedupe store and the provider. The same behaviour runs against the real stack in
tests/integration/runtime and tests/e2e/test_worker_*.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from prometheus_client import CollectorRegistry

from libs.contracts import CustomerEvent, Lifecycle, Source
from libs.runtime.consuming import CommitAfterEffect, HandBack, decode_as
from libs.runtime.dedupe import Applied, InMemoryDedupe
from libs.runtime.errors import ProviderError, TransientProviderError, error_for_status
from libs.runtime.integration import Mode, WorkerSettings, in_rollout
from libs.runtime.ledger import Ledger
from libs.runtime.repository import Change, Snapshot, Updated
from libs.runtime.worker import WorkerLoop
from libs.runtime.worker_metrics import WorkerMetrics

ACTIONS = ["create_member", "add_access_group:Members"]
RESULTS = "sync.results.v1"
FAILED = "circle.failed.v1"


class Journal(list[tuple[str, str]]):
    """Every side effect in order, so a test can check what happened before what."""


class FakeBroker:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.down = False

    async def publish(self, payload: bytes, topic: str, **_: Any) -> None:
        if self.down:
            raise ConnectionError("kafka is down")
        self.published.append((topic, json.loads(payload)))
        self.journal.append(("publish", topic))

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [body for t, body in self.published if t == topic]


class JournaledDedupe(InMemoryDedupe):
    """The in-memory dedupe fake, noting each record written in the journal."""

    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal

    async def update(
        self, record_id: str, change: Change[Applied], snapshot: Snapshot[Applied] | None = None
    ) -> Updated[Applied]:
        updated = await super().update(record_id, change, snapshot)
        assert updated.after is not None
        assert updated.after.last_event is not None
        self.journal.append(("processed", updated.after.recent[updated.after.last_event]))
        return updated

    def records(self) -> dict[str, Applied]:
        return {i: self.codec.from_document(doc) for i, doc in self.documents.items()}

    @property
    def processed(self) -> dict[str, str]:
        return {e: o for r in self.records().values() for e, o in r.recent.items()}

    @property
    def versions(self) -> dict[str, int]:
        return {c: r.version for c, r in self.records().items() if r.version}


class ScriptedIntegration:
    """Fails with the scripted errors, in order, then succeeds with `ACTIONS`."""

    name: ClassVar[str] = "circle"

    def __init__(self, journal: Journal, errors: Iterable[ProviderError] = ()) -> None:
        self.journal = journal
        self.errors = list(errors)
        self.calls: list[bool] = []  # dry_run of each call
        self.block: asyncio.Event | None = None
        self.called = asyncio.Event()

    async def sync(
        self, event: CustomerEvent, *, dry_run: bool, ledger: Ledger | None = None
    ) -> list[str]:
        self.calls.append(dry_run)
        self.called.set()
        if self.block is not None:
            await self.block.wait()
        if self.errors:
            raise self.errors.pop(0)
        if not dry_run:
            self.journal.append(("effect", event.event_id))
        return list(ACTIONS)

    async def aclose(self) -> None:
        pass


def event(customer: str = "cust_1", version: int = 1, event_id: str = "evt_1") -> CustomerEvent:
    return CustomerEvent(
        event_id=event_id,
        customer_id=customer,
        version=version,
        email="jane@example.com",
        lifecycle=Lifecycle.PAID,
        products=("prod_basic",),
        source=Source(
            event_id=event_id,
            event_type="checkout.session.completed",
            occurred_at=datetime.now(UTC),
        ),
    )


def settings(**overrides: Any) -> WorkerSettings:
    values: dict[str, Any] = {
        "env": "local",
        "retries": 3,
        "backoff_base_seconds": 0.001,
        "backoff_max_seconds": 0.002,
        "rate_limit_window_seconds": 0.001,
        "rate_limit_budget_seconds": 0.05,
        **overrides,
    }
    return WorkerSettings(**values)


class World:
    def __init__(self, errors: Iterable[ProviderError] = (), **overrides: Any) -> None:
        self.journal = Journal()
        self.broker = FakeBroker(self.journal)
        self.dedupe = JournaledDedupe(self.journal)
        self.integration = ScriptedIntegration(self.journal, errors)
        self.registry = CollectorRegistry()
        self.loop = WorkerLoop(
            self.integration,
            settings(**overrides),
            self.broker,  # type: ignore[arg-type]
            self.dedupe,
            WorkerMetrics(self.registry),
        )

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, {"integration": "circle", **labels}) or 0.0

    def attempts(self, action: str, outcome: str) -> float:
        return self.metric("switchboard_sync_attempts_total", action=action, outcome=outcome)

    def results(self) -> list[dict[str, Any]]:
        """The outcomes published (progress reports apart: `retrying`)."""
        return [r for r in self.broker.on(RESULTS) if r["outcome"] not in ("retrying", "waiting")]

    def progress(self) -> list[dict[str, Any]]:
        return [r for r in self.broker.on(RESULTS) if r["outcome"] == "retrying"]


def e503() -> ProviderError:
    return error_for_status("circle", 503, "unavailable", endpoint="GET /search")


def e429() -> ProviderError:
    return error_for_status("circle", 429, "Retry later")


async def test_two_503s_then_success_is_synced_after_three_attempts() -> None:
    world = World([e503(), e503()])
    result = await world.loop.process(event())
    assert (result.outcome, result.attempts) == ("synced", 3)
    assert [r["outcome"] for r in world.results()] == ["synced"]
    assert world.results()[0]["attempts"] == 3
    # each failed attempt was reported, so the step shows "retrying", not a silent "pending"
    assert [(r["attempts"], r["error"]["status"]) for r in world.progress()] == [(1, 503), (2, 503)]
    assert world.broker.on(FAILED) == []
    assert world.metric("switchboard_sync_retries_total", reason="error") == 2
    assert world.attempts("read", "retryable") == 2
    assert world.attempts("create_member", "ok") == 1


async def test_the_outcome_is_published_before_the_dedupe_records() -> None:
    world = World()
    await world.loop.process(event(version=4))
    assert world.journal == [
        ("effect", "evt_1"),
        ("publish", RESULTS),
        ("processed", "synced"),  # the version and the event id in one record, at once
    ]
    assert world.dedupe.versions == {"cust_1": 4}


async def test_a_permanent_503_fails_once_after_all_retries() -> None:
    world = World([e503() for _ in range(10)])
    result = await world.loop.process(event())
    assert (result.outcome, result.attempts) == ("failed", 4)  # 1 + 3 retries
    assert len(world.integration.calls) == 4
    [failure] = world.broker.on(FAILED)
    assert failure["attempts"] == 4
    assert failure["error"] == {
        "status": 503,
        "code": "http_503",
        "message": "unavailable",
        "retryable": True,
    }
    assert failure["event"]["event_id"] == "evt_1"
    [reported] = world.results()
    assert (reported["outcome"], reported["error"]["status"]) == ("failed", 503)
    # failure topic, then the result, then the record: a crash before the record re-runs it
    final = [j for j in world.journal if j != ("publish", RESULTS)][:1] + world.journal[-2:]
    assert final == [("publish", FAILED), ("publish", RESULTS), ("processed", "failed")]
    assert world.dedupe.versions == {}  # nothing applied: a replay must not be stale
    assert world.metric("switchboard_sync_failures_total") == 1


@pytest.mark.parametrize("status", [400, 404, 422, 401, 403])
async def test_permanent_errors_fail_on_the_first_attempt(status: int) -> None:
    world = World([error_for_status("circle", status, "no")])
    result = await world.loop.process(event())
    assert (result.outcome, result.attempts) == ("failed", 1)
    assert len(world.broker.on(FAILED)) == 1
    auth = world.metric("switchboard_sync_auth_errors_total", status=str(status))
    assert auth == (1 if status in (401, 403) else 0)
    outcome = "auth" if status in (401, 403) else "permanent"
    assert world.attempts("read", outcome) == 1


async def test_a_crash_inside_the_integration_fails_the_step_instead_of_blocking() -> None:
    world = World([KeyError("members")])  # type: ignore[list-item]  # e.g. an unexpected reply
    result = await world.loop.process(event())
    assert (result.outcome, result.attempts) == ("failed", 1)
    [failure] = world.broker.on(FAILED)
    assert failure["error"]["code"] == "internal"
    assert "KeyError" in failure["error"]["message"]
    assert world.dedupe.processed == {"evt_1": "failed"}  # committed: the partition moves on


async def test_the_failing_action_is_named() -> None:
    error = e503()
    error.action = "add_access_group:Members"
    world = World([error for _ in range(4)])
    await world.loop.process(event())
    assert world.broker.on(FAILED)[0]["action"] == "add_access_group:Members"
    assert world.attempts("add_access_group", "retryable") == 4


async def test_a_429_storm_longer_than_the_error_retries_still_syncs() -> None:
    world = World([e429() for _ in range(8)], rate_limit_budget_seconds=5)
    result = await world.loop.process(event())
    assert (result.outcome, result.attempts) == ("synced", 9)
    assert world.broker.on(FAILED) == []
    assert world.metric("switchboard_sync_retries_total", reason="rate_limit") == 8
    assert world.attempts("read", "rate_limited") == 8


async def test_a_429_storm_past_the_wait_budget_fails() -> None:
    world = World([e429() for _ in range(100)], rate_limit_budget_seconds=0.01)
    result = await world.loop.process(event())
    assert result.outcome == "failed"
    assert result.attempts >= 4  # at least `retries` retries, whatever the budget
    assert len(world.broker.on(FAILED)) == 1


async def test_a_stale_event_is_skipped_and_reported() -> None:
    world = World()
    await world.loop.process(event(version=2, event_id="evt_new"))
    world.integration.calls.clear()
    result = await world.loop.process(event(version=1, event_id="evt_old"))
    assert result.outcome == "stale"
    assert world.integration.calls == []
    assert world.dedupe.processed["evt_old"] == "stale"
    assert world.metric("switchboard_sync_stale_skips_total") == 1


async def test_a_duplicate_event_is_skipped_and_reported() -> None:
    world = World()
    await world.loop.process(event())
    result = await world.loop.process(event())
    assert result.outcome == "duplicate"
    assert world.integration.calls == [False]
    assert [r["outcome"] for r in world.results()] == ["synced", "duplicate"]
    assert world.metric("switchboard_sync_dedupe_hits_total") == 1


async def test_a_replay_skips_the_processed_check_but_not_the_version_check() -> None:
    world = World([e503() for _ in range(4)])
    await world.loop.process(event(version=3))  # fails
    replay = event(version=3).model_copy(update={"replay_id": "rpl_1"})
    assert (await world.loop.process(replay, replay=True)).outcome == "synced"
    newer = event(version=4, event_id="evt_2")
    await world.loop.process(newer)
    assert (await world.loop.process(replay, replay=True)).outcome == "stale"


async def test_shadow_mode_plans_and_calls_nothing() -> None:
    world = World(mode=Mode.SHADOW)
    result = await world.loop.process(event())
    assert result.outcome == "shadow"
    assert result.actions == tuple(ACTIONS)
    assert world.integration.calls == [True]  # dry run only
    assert ("effect", "evt_1") not in world.journal
    assert world.dedupe.processed == {}  # switching to `on` later must still apply it
    assert world.dedupe.versions == {}


async def test_shadow_mode_reports_a_provider_error_without_an_incident() -> None:
    world = World([e503() for _ in range(10)], mode=Mode.SHADOW)
    result = await world.loop.process(event())
    assert result.outcome == "shadow"
    assert result.error is not None
    assert result.error.status == 503
    assert world.broker.on(FAILED) == []


async def test_off_and_outside_the_rollout_are_reported_as_off() -> None:
    world = World(mode=Mode.OFF)
    assert (await world.loop.process(event())).outcome == "off"
    inside = next(f"c{n}" for n in range(1000) if in_rollout(f"c{n}", 10))
    outside = next(f"c{n}" for n in range(1000) if not in_rollout(f"c{n}", 10))
    world = World(rollout_percent=10)
    assert (await world.loop.process(event(customer=outside))).outcome == "off"
    assert (await world.loop.process(event(customer=inside, event_id="e2"))).outcome == "synced"
    assert world.integration.calls == [False]


async def test_kafka_down_while_publishing_the_outcome_writes_no_dedupe_record() -> None:
    world = World()
    world.broker.down = True
    with pytest.raises(ConnectionError):
        await world.loop.process(event())
    assert world.dedupe.processed == {}  # so the redelivery re-runs and publishes "synced"
    world.broker.down = False
    result = await world.loop.process(event())
    assert result.outcome == "synced"


# --- offsets and shutdown ---------------------------------------------------------------------


class Record:
    topic, partition, offset = "customer.events.v1", 3, 41


class FakeConsumer:
    def __init__(self) -> None:
        self.commits: list[dict[Any, int]] = []
        self.assignment: Any = set

    async def commit(self, offsets: dict[Any, int]) -> None:
        self.commits.append(offsets)


class FakeMessage:
    def __init__(self) -> None:
        self.raw_message = Record()
        self.consumer = FakeConsumer()
        self.nacked = 0
        self.committed: Any = None
        self.body = b""

    async def nack(self) -> None:
        self.nacked += 1


async def consume(world: World, msg: FakeMessage, body: bytes | None = None) -> None:
    """One message through the worker's router as FastStream runs it: the commit-after-effect
    middleware around the subscriber's decoder and the typed handler."""
    msg.body = body or event().to_bytes()
    decode = decode_as(CustomerEvent)

    async def call_next(m: Any) -> None:
        await world.loop.handle(await decode(m))

    middleware = CommitAfterEffect(msg, context=None, policy=world.loop.commit_policy())
    await middleware.consume_scope(call_next, msg)


async def test_the_offset_of_exactly_this_record_is_committed_after_the_records() -> None:
    world = World()
    msg = FakeMessage()
    await consume(world, msg)
    [offsets] = msg.consumer.commits
    assert [(tp.topic, tp.partition, o) for tp, o in offsets.items()] == [
        ("customer.events.v1", 3, 42)
    ]
    assert world.journal[-1] == ("processed", "synced")


async def test_an_internal_failure_hands_the_message_back_uncommitted() -> None:
    world = World()
    world.broker.down = True
    msg = FakeMessage()
    await consume(world, msg)
    assert (msg.consumer.commits, msg.nacked) == ([], 1)
    assert world.metric("switchboard_sync_handed_back_total", reason="internal_error") == 1


async def test_stopping_hands_back_a_message_waiting_to_retry() -> None:
    world = World([e503() for _ in range(10)], backoff_base_seconds=60, backoff_max_seconds=60)
    world.loop.rand.uniform = lambda a, b: b  # type: ignore[method-assign]
    msg = FakeMessage()
    task = asyncio.create_task(consume(world, msg))
    await world.integration.called.wait()
    assert await world.loop.drain(grace=5)  # does not wait the 60 s backoff
    await task
    assert msg.consumer.commits == []
    assert world.results() == []  # only the progress report: no outcome
    assert world.broker.on(FAILED) == []
    assert world.dedupe.processed == {}
    assert world.metric("switchboard_sync_handed_back_total", reason="shutdown") == 1


async def test_a_retry_wait_after_stop_ends_at_once_with_a_hand_back() -> None:
    world = World([e503()], backoff_base_seconds=60, backoff_max_seconds=60)
    world.loop.stop()
    with pytest.raises(HandBack):
        await asyncio.wait_for(world.loop.process(event()), timeout=5)
    assert world.results() == []
    assert world.broker.on(FAILED) == []


async def test_stopping_lets_an_attempt_in_flight_finish_and_commit() -> None:
    world = World()
    world.integration.block = asyncio.Event()
    msg = FakeMessage()
    task = asyncio.create_task(consume(world, msg))
    await world.integration.called.wait()
    drain = asyncio.create_task(world.loop.drain(grace=5))
    await asyncio.sleep(0.05)
    assert not drain.done()  # waits for the attempt talking to the provider
    world.integration.block.set()
    assert await drain
    await task
    assert len(msg.consumer.commits) == 1
    assert [r["outcome"] for r in world.results()] == ["synced"]


async def test_after_stop_no_new_message_is_started() -> None:
    world = World()
    world.loop.stop()
    msg = FakeMessage()
    await consume(world, msg)
    assert (world.integration.calls, msg.consumer.commits, msg.nacked) == ([], [], 0)


async def test_an_unreadable_message_is_committed_and_counted() -> None:
    world = World()
    msg = FakeMessage()
    await consume(world, msg, b'{"not": "an event"}')
    assert len(msg.consumer.commits) == 1
    assert world.metric("switchboard_sync_results_total", outcome="unreadable") == 1


def test_transient_errors_default_to_retryable() -> None:
    assert TransientProviderError("circle", "x").retryable


# -- an event that changes nothing this integration holds costs no provider call ---------------


class KeyedIntegration(ScriptedIntegration):
    """Keys its desired state by access only, as Circle's does (paid and active both grant)."""

    def desired_key(self, event: CustomerEvent) -> str:
        return "access" if event.lifecycle in (Lifecycle.PAID, Lifecycle.ACTIVE) else "none"


def keyed_world(errors: Iterable[ProviderError] = ()) -> World:
    world = World()
    world.integration = KeyedIntegration(world.journal, errors)
    world.loop.integration = world.integration
    return world


def follow_up(version: int, lifecycle: Lifecycle, event_id: str) -> CustomerEvent:
    return event(version=version, event_id=event_id).model_copy(update={"lifecycle": lifecycle})


async def test_a_follow_up_with_the_same_desired_state_calls_nothing() -> None:
    world = keyed_world()
    await world.loop.process(event(version=1))
    assert len(world.integration.calls) == 1
    result = await world.loop.process(follow_up(2, Lifecycle.ACTIVE, "evt_2"))
    assert (result.outcome, result.actions) == ("synced", ("unchanged",))
    assert len(world.integration.calls) == 1  # the provider was not called
    assert world.dedupe.versions["cust_1"] == 2
    assert world.metric("switchboard_sync_unchanged_total") == 1
    # a change of what the provider must hold calls it again
    await world.loop.process(follow_up(3, Lifecycle.CANCELED, "evt_3"))
    assert len(world.integration.calls) == 2


async def test_after_a_failure_the_same_desired_state_calls_again() -> None:
    world = keyed_world([e503() for _ in range(4)])
    await world.loop.process(event(version=1))  # fails after its retries: state unknown
    world.integration.errors.clear()
    calls = len(world.integration.calls)
    result = await world.loop.process(follow_up(2, Lifecycle.ACTIVE, "evt_2"))
    assert result.outcome == "synced"
    assert len(world.integration.calls) == calls + 1


async def test_a_replay_always_calls_the_provider() -> None:
    world = keyed_world()
    await world.loop.process(event(version=1))
    replay = follow_up(2, Lifecycle.ACTIVE, "evt_2").model_copy(update={"replay_id": "rp_1"})
    await world.loop.process(replay, replay=True)
    assert len(world.integration.calls) == 2


async def test_a_reconcile_repair_runs_at_the_applied_version_against_the_trusted_ledger() -> None:
    world = World()
    seen_ledgers: list[Ledger | None] = []
    sync = world.integration.sync

    async def noting(e: CustomerEvent, *, dry_run: bool, ledger: Ledger | None = None) -> list[str]:
        seen_ledgers.append(ledger)
        return await sync(e, dry_run=dry_run, ledger=ledger)

    world.integration.sync = noting  # type: ignore[method-assign]
    await world.loop.process(event(version=2))
    again = event(version=2, event_id="evt_again")
    assert (await world.loop.process(again)).outcome == "stale"  # not a repair: stale
    repair = event(version=2, event_id="reconcile:rec_1:cust_1").model_copy(
        update={"replay_id": "rec_1", "repair": True}
    )
    assert (await world.loop.process(repair, replay=True)).outcome == "synced"
    assert seen_ledgers[-1] is not None
    assert seen_ledgers[-1].trusted  # the sweep corrected it: no read first
    older = event(version=1, event_id="reconcile:rec_0:cust_1").model_copy(
        update={"replay_id": "rec_0", "repair": True}
    )
    assert (await world.loop.process(older, replay=True)).outcome == "stale"
    assert world.dedupe.versions == {"cust_1": 2}
