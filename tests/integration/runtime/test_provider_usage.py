"""The month's provider calls on the real FerretDB: replicas and restarts add to one document per
integration per month, with one `$inc` per flush (never one write per call), read back for the
quota gauge."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from libs.runtime.provider_usage import MongoUsage, MonthlyUsage
from libs.runtime.worker_metrics import WorkerMetrics

pytestmark = pytest.mark.integration

MARCH = datetime(2026, 3, 15, 12, tzinfo=UTC)


async def test_replicas_share_the_month_and_it_survives_a_restart(mongo_db: Any) -> None:
    registry = CollectorRegistry()
    gauge = WorkerMetrics(registry).quota_used
    store = MongoUsage(mongo_db)
    one = MonthlyUsage("circle", store, 5000, gauge, clock=lambda: MARCH)
    two = MonthlyUsage("circle", store, 5000, clock=lambda: MARCH)
    for _ in range(300):
        one.count()
    two.count(200)
    await one.flush()
    await two.flush()
    await one.flush()  # reads the other replica's calls back
    assert (one.used, two.used) == (500, 500)
    assert registry.get_sample_value(
        "switchboard_provider_quota_used_ratio", {"integration": "circle"}
    ) == pytest.approx(0.1)

    restarted = MonthlyUsage("circle", store, 5000, clock=lambda: MARCH)
    await restarted.flush()
    assert restarted.used == 500
    document = await mongo_db["provider_usage"].find_one({"_id": "circle:2026-03"})
    assert (document["calls"], document["month"]) == (500, "2026-03")

    april = MonthlyUsage("circle", store, 5000, clock=lambda: datetime(2026, 4, 1, tzinfo=UTC))
    await april.flush()
    assert april.used == 0
    other = MonthlyUsage("convertkit", store, 0, clock=lambda: MARCH)
    await other.flush()
    assert other.used == 0
