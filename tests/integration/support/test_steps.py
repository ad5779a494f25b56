"""Failed steps on the real FerretDB through the repository: statuses move only from the ones
allowed and up to a version, in one bulk write, and a step recorded before the repository kept a
`revision` is still moved."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.support import steps
from services.support.mongo_records import MongoFailedSteps

pytestmark = pytest.mark.integration

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def step(n: int, status: str = "failed") -> dict[str, Any]:
    return {
        "_id": f"circle:evt_{n}",
        "failure_key": f"evt_{n}|-",
        "customer_id": "cust_s",
        "integration": "circle",
        "event_id": f"evt_{n}",
        "version": n,
        "status": status,
        "failed_at": AT,
    }


async def test_statuses_move_from_replayable_ones_up_to_a_version(mongo_db: Any) -> None:
    repo = MongoFailedSteps(mongo_db)
    for n, status in ((1, "failed"), (2, "replayed"), (3, "synced"), (4, "failed")):
        assert await steps.record_failure(repo, step(n, status))
    assert not await steps.record_failure(repo, step(1))  # the same failure again
    ids = [f"circle:evt_{n}" for n in (1, 2, 3, 4, 5)]
    moved = await steps.set_status(repo, ids, "superseded", max_version=3, superseded_by="evt_9")
    assert moved == 2
    found = await repo.get_many(ids)
    assert {i: s["status"] for i, s in found.items()} == {
        "circle:evt_1": "superseded",
        "circle:evt_2": "superseded",
        "circle:evt_3": "synced",
        "circle:evt_4": "failed",
    }
    listed = await repo.listed(integration="circle", since=None, until=None, statuses=("failed",))
    assert [s["event_id"] for s in listed] == ["evt_4"]


async def test_a_step_recorded_without_a_revision_is_still_moved(mongo_db: Any) -> None:
    await mongo_db["support_failures"].insert_one({**step(7), "replays": 0})
    repo = MongoFailedSteps(mongo_db)
    await steps.mark_replayed(repo, step(7), "rpl_1")
    moved = await steps.set_status(repo, ["circle:evt_7"], "synced")
    found = await repo.get("circle:evt_7")
    assert found is not None
    assert (found["status"], found["replays"], found["replay_id"], moved) == (
        "synced",
        1,
        "rpl_1",
        1,
    )
