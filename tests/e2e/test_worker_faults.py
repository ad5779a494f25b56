"""The shared worker loop's retry guarantees on the real stack, with circle_sync as the worker:
the sandbox's Circle fails on purpose, and the outcome is read from sync.results.v1,
circle.failed.v1, the sandbox's request log and the worker's /metrics.

circle_sync runs here with short backoffs (`FAST_RETRIES`), so the module takes seconds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.conftest import unique_email

from .conftest import System, wait_for
from .worker_support import (
    CREATE,
    FAST_RETRIES,
    GRANT,
    TopicTail,
    circle_counts,
    circle_with,
    customer_event,
    delta,
    failures,
    in_group,
    metrics,
    publish_events,
    results,
    sample,
    wait_caught_up,
)

pytestmark = pytest.mark.e2e

CREATE_PATH = "/api/admin/v2/community_members"


@pytest.fixture(scope="module")
def fast_circle(system: System) -> Iterator[System]:
    with circle_with(system, FAST_RETRIES):
        yield system


@pytest.fixture
def sync_results(fast_circle: System) -> TopicTail:
    return results(fast_circle)


@pytest.fixture
def circle_failures(fast_circle: System) -> TopicTail:
    return failures(fast_circle)


def test_two_503s_then_success_syncs_after_exactly_three_attempts(
    fast_circle: System, sync_results: TopicTail, circle_failures: TopicTail
) -> None:
    system = fast_circle
    email = unique_email("retry503")
    before, faulted_before, m0 = circle_counts(system), circle_counts(system, "faulted"), metrics()
    system.fault(provider="circle", status=503, count=2, method="POST", path=CREATE_PATH)

    event_id = system.trigger("purchase", email=email)["event_id"]

    result = sync_results.wait(event_id, "synced")
    assert result["attempts"] == 3
    assert result["actions"] == ["create_member", "add_access_group:Members"]
    after, faulted = circle_counts(system), circle_counts(system, "faulted")
    assert delta(faulted, faulted_before, CREATE) == 2  # the two 503s
    assert (delta(after, before, CREATE), delta(after, before, GRANT)) == (1, 1)
    assert in_group(system, email)
    assert circle_failures.about(event_id) == []

    m1 = metrics()
    assert (
        sample(m1, "switchboard_sync_retries_total", reason="error")
        - sample(m0, "switchboard_sync_retries_total", reason="error")
        == 2
    )
    attempts = {"action": "create_member", "outcome": "retryable"}
    assert (
        sample(m1, "switchboard_sync_attempts_total", **attempts)
        - sample(m0, "switchboard_sync_attempts_total", **attempts)
        == 2
    )
    latency = {"route": f"{CREATE}", "status": "503"}
    name = "switchboard_downstream_request_seconds_count"
    assert sample(m1, name, **latency) - sample(m0, name, **latency) == 2


def test_a_permanent_503_publishes_one_failure_and_a_failed_result(
    fast_circle: System, sync_results: TopicTail, circle_failures: TopicTail
) -> None:
    system = fast_circle
    email = unique_email("down503")
    faulted_before, m0 = circle_counts(system, "faulted"), metrics()
    system.fault(provider="circle", status=503, method="POST", path=CREATE_PATH)
    try:
        event_id = system.trigger("purchase", email=email)["event_id"]
        result = sync_results.wait(event_id, "failed")
    finally:
        system.clear_faults()

    assert result["attempts"] == 4  # the first try and 3 retries
    assert result["error"]["status"] == 503
    assert result["error"]["retryable"] is True
    assert delta(circle_counts(system, "faulted"), faulted_before, CREATE) == 4

    failure = circle_failures.wait(event_id)
    assert failure["integration"] == "circle"
    assert failure["action"] == "create_member"
    assert failure["attempts"] == 4
    assert failure["error"]["code"] == "http_503"
    assert failure["event"]["email"] == email  # what support needs to replay it
    time.sleep(1.5)  # a wrong second failure or result would be out by now
    assert len(circle_failures.about(event_id)) == 1
    assert [r["outcome"] for r in sync_results.about(event_id)] == ["failed"]
    assert not in_group(system, email)
    m1 = metrics()
    assert (
        sample(m1, "switchboard_sync_failures_total")
        - sample(m0, "switchboard_sync_failures_total")
        == 1
    )


def test_a_429_storm_is_waited_out_and_then_synced(
    fast_circle: System, sync_results: TopicTail, circle_failures: TopicTail
) -> None:
    system = fast_circle
    email = unique_email("storm")
    before, faulted_before, m0 = circle_counts(system), circle_counts(system, "faulted"), metrics()
    # Circle answers every member creation with 429 (no Retry-After, as Circle does) until the
    # storm is cleared. Only a new customer creates a member, so the 429s are all this event's.
    system.fault(provider="circle", status=429, method="POST", path=CREATE_PATH)
    try:
        event_id = system.trigger("purchase", email=email)["event_id"]
        # More 429s than the attempts an error gets (1 + 3 retries), and still no failure.
        wait_for(
            lambda: delta(circle_counts(system, "faulted"), faulted_before, CREATE) >= 5,
            timeout=30,
            what="five 429s",
        )
        assert circle_failures.about(event_id) == []
        assert sync_results.about(event_id) == []
        # ... and the step shows it is retrying, not a silent "pending"
        assert {m["outcome"] for m in sync_results.about(event_id, progress=True)} == {"retrying"}
    finally:
        system.clear_faults()

    result = sync_results.wait(event_id, "synced")
    assert result["attempts"] >= 6
    after = circle_counts(system)
    assert (delta(after, before, CREATE), delta(after, before, GRANT)) == (1, 1)
    assert in_group(system, email)
    assert circle_failures.about(event_id) == []
    m1 = metrics()
    limited = {"action": "create_member", "outcome": "rate_limited"}
    assert (
        sample(m1, "switchboard_sync_attempts_total", **limited)
        - sample(m0, "switchboard_sync_attempts_total", **limited)
        == result["attempts"] - 1
    )
    assert (
        sample(m1, "switchboard_sync_retries_total", reason="rate_limit")
        - sample(m0, "switchboard_sync_retries_total", reason="rate_limit")
        == result["attempts"] - 1
    )


def test_retry_after_is_honoured_up_to_the_cap(
    fast_circle: System, sync_results: TopicTail
) -> None:
    system = fast_circle
    email = unique_email("retryafter")
    # One 429 asking for 30 s: the worker waits the cap (2.5 s here), not the 0.1 s window
    # and not 30 s.
    system.fault(
        provider="circle", status=429, retry_after=30, count=1, method="POST", path=CREATE_PATH
    )
    started = time.time()
    event_id = system.trigger("purchase", email=email)["event_id"]
    result = sync_results.wait(event_id, "synced")
    took = datetime.fromisoformat(result["at"]).timestamp() - started
    assert result["attempts"] == 2
    assert 2.5 <= took < 15


def test_a_stale_event_is_skipped_and_a_duplicate_is_reported(
    fast_circle: System, sync_results: TopicTail
) -> None:
    system = fast_circle
    customer_id = f"cust_e2e_{uuid.uuid4().hex[:12]}"
    email = unique_email("stale")
    newer = customer_event(customer_id, email, version=2)
    older = customer_event(customer_id, email, version=1)
    before, m0 = circle_counts(system), metrics()

    # Same key, same partition, this order: v2, then the older v1, then v2 again.
    publish_events(system, [newer, older, newer])

    sync_results.wait(newer.event_id, "duplicate")
    assert [r["outcome"] for r in sync_results.about(newer.event_id)] == ["synced", "duplicate"]
    [stale] = sync_results.about(older.event_id)
    assert (stale["outcome"], stale["version"], stale["attempts"]) == ("stale", 1, 0)
    after = circle_counts(system)
    assert (delta(after, before, CREATE), delta(after, before, GRANT)) == (1, 1)
    m1 = metrics()
    for name in ("switchboard_sync_stale_skips_total", "switchboard_sync_dedupe_hits_total"):
        assert sample(m1, name) - sample(m0, name) == 1, name


def test_consumer_lag_is_exported_per_partition_and_drains(fast_circle: System) -> None:
    seen: dict[str, float] = {}

    def lag() -> dict[str, float] | None:
        seen.clear()
        seen.update(
            {
                dict(labels)["partition"]: value
                for (name, labels), value in metrics().items()
                if name == "switchboard_consumer_lag_messages"
                and dict(labels)["topic"] == "customer.events.v1"
            }
        )
        return dict(seen) if len(seen) == 12 and sum(seen.values()) == 0 else None

    wait_caught_up(fast_circle)
    try:
        partitions = wait_for(lag, timeout=15, what="lag of 0 on all 12 partitions")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last seen: {seen}") from None
    assert sorted(partitions, key=int) == [str(p) for p in range(12)]
