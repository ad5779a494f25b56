"""The worker stopped abruptly or politely on the real stack, with circle_sync as the worker:
SIGKILL in the middle of a burst loses and doubles nothing; SIGTERM finishes the attempt in
flight and hands back what is waiting to retry."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from libs.runtime.integration import WorkerSettings
from tests.conftest import unique_email

from .conftest import System, circle_member, wait_for
from .worker_support import (
    CREATE,
    GRANT,
    circle_counts,
    delta,
    in_group,
    restart_circle,
    results,
    wait_caught_up,
    wait_consuming,
)

pytestmark = pytest.mark.e2e

CREATE_PATH = "/api/admin/v2/community_members"
GRANT_PATH = "/api/admin/v2/access_groups/*/community_members"
#: steps a worker runs at once (`WorkerSettings.parallel_steps`), so in flight at a kill
PARALLEL_STEPS = WorkerSettings.model_fields["parallel_steps"].default


@pytest.fixture
def circle(system: System) -> Iterator[System]:
    """circle_sync consuming and caught up before the test, with the stack's settings after."""
    wait_consuming(system)
    wait_caught_up(system)
    try:
        yield system
    finally:
        system.clear_faults()
        process = system.stack.processes["circle_sync"]
        if process.poll() is not None:
            system.stack.restart("circle_sync")


def test_sigkill_in_the_middle_of_a_burst_loses_nothing_and_doubles_nothing(
    circle: System,
) -> None:
    system = circle
    emails = [unique_email("burst") for _ in range(30)]
    before = circle_counts(system)
    # Every grant takes 400 ms, so the burst is still being worked on when the kill comes (the
    # worker reads nothing: it writes first). A grant held up when its client dies may or may
    # not be applied; the repeat after the restart is counted below as the call it is.
    system.fault(provider="circle", latency_ms=400, method="POST", path=GRANT_PATH)
    with ThreadPoolExecutor(8) as pool:
        sent = list(pool.map(lambda e: system.trigger("purchase", email=e), emails))
    assert all(s["ingest"]["status_code"] == 200 for s in sent)

    def granted() -> int:
        state = system.state()
        return sum(
            1
            for e in emails
            if "Members" in (circle_member(state, e) or {}).get("access_groups", [])
        )

    wait_for(lambda: granted() >= 5, timeout=30, what="the first grants")
    system.stack.kill("circle_sync", signal.SIGKILL)
    done_at_kill = granted()
    print(f"granted when killed: {done_at_kill} of 30")
    assert done_at_kill < 30, "the kill came too late to prove anything"

    system.clear_faults()
    system.stack.restart("circle_sync")
    wait_for(lambda: granted() == 30, timeout=60, what="all 30 customers granted")
    wait_caught_up(system)
    time.sleep(1)  # a wrong second create or grant would be in by now

    state = system.state()
    for email in emails:
        members = [m for m in state["circle"]["members"] if m["email"].lower() == email.lower()]
        assert len(members) == 1, email
        assert members[0]["access_groups"] == ["Members"], email
    # A step the kill cut short after its create but before its record runs again, and its
    # create is answered "already a member" (the ledger had not recorded it): a call again, not
    # a second member. At most one per step in flight at the kill.
    after = state["circle"]["requests"]
    creates, grants = delta(after, before, CREATE), delta(after, before, GRANT)
    assert 30 <= creates <= 30 + PARALLEL_STEPS
    assert 30 <= grants <= 30 + PARALLEL_STEPS


def test_sigterm_hands_back_a_message_waiting_out_a_rate_limit(circle: System) -> None:
    system = circle
    # A 30 s rate-limit window: the worker is asleep between tries when the SIGTERM comes.
    restart_circle(
        system,
        {
            "SWITCHBOARD_CIRCLE_RATE_LIMIT_WINDOW_SECONDS": "30",
            "SWITCHBOARD_CIRCLE_MAX_RETRY_AFTER_SECONDS": "30",
        },
    )
    sync_results = results(system)
    email = unique_email("handback")
    faulted_before, before = circle_counts(system, "faulted"), circle_counts(system)
    system.fault(provider="circle", status=429, method="POST", path=CREATE_PATH)
    event_id = system.trigger("purchase", email=email)["event_id"]
    wait_for(
        lambda: delta(circle_counts(system, "faulted"), faulted_before, CREATE) >= 1,
        what="the first 429",
    )
    time.sleep(0.5)

    started = time.monotonic()
    system.stack.kill("circle_sync", signal.SIGTERM)
    took = time.monotonic() - started
    assert took < 8, f"shutdown waited {took:.1f} s instead of handing the message back"
    assert sync_results.about(event_id) == []  # handed back: no outcome, no commit

    system.clear_faults()
    system.stack.restart("circle_sync")  # the stack's settings: redelivered and synced
    result = sync_results.wait(event_id, "synced", timeout=45)
    assert result["attempts"] == 1
    assert in_group(system, email)
    after = circle_counts(system)
    assert (delta(after, before, CREATE), delta(after, before, GRANT)) == (1, 1)


def test_sigterm_lets_the_attempt_in_flight_finish_and_commit(circle: System) -> None:
    system = circle
    sync_results = results(system)
    email = unique_email("finish")
    before = circle_counts(system)
    # The grant takes 3 s: SIGTERM arrives while it is on the wire.
    system.fault(provider="circle", latency_ms=3000, count=1, method="POST", path=GRANT_PATH)
    event_id = system.trigger("purchase", email=email)["event_id"]
    wait_for(lambda: circle_member(system.state(), email), what="the member")

    started = time.monotonic()
    system.stack.kill("circle_sync", signal.SIGTERM)
    took = time.monotonic() - started
    # Finished before exiting: the outcome is out and the offset committed.
    [result] = sync_results.about(event_id)
    assert result["outcome"] == "synced"
    assert in_group(system, email)
    assert took < 12

    system.stack.restart("circle_sync")
    wait_caught_up(system)
    time.sleep(1)
    # Committed, so not redelivered: no second outcome ("duplicate") after the restart.
    assert [r["outcome"] for r in sync_results.about(event_id)] == ["synced"]
    after = circle_counts(system)
    assert (delta(after, before, CREATE), delta(after, before, GRANT)) == (1, 1)
