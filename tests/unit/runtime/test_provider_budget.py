"""Every provider call is paced and counted: by kind (GET reads, anything else writes) and
outcome, and against the month's quota, which reaches the store in batches, not per call."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client import CollectorRegistry

from libs.runtime.errors import ProviderError
from libs.runtime.integration import WorkerSettings
from libs.runtime.pacing import Pacer
from libs.runtime.provider_budget import ProviderBudget
from libs.runtime.provider_http import ProviderHttp
from libs.runtime.provider_usage import InMemoryUsage, MonthlyUsage
from libs.runtime.worker_metrics import WorkerMetrics

STATUSES = {"/ok": 200, "/missing": 404, "/limited": 429, "/broken": 503, "/bad": 422}


def handler(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/slow":
        raise httpx.ReadTimeout("slow", request=request)
    if request.url.path == "/down":
        raise httpx.ConnectError("down", request=request)
    return httpx.Response(STATUSES[request.url.path], json={})


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def worker(quota: int = 100) -> tuple[ProviderHttp, CollectorRegistry, ProviderBudget]:
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    settings = WorkerSettings.load(env="local", rate_limit=1000, monthly_quota=quota)
    budget = ProviderBudget.for_worker("circle", settings, InMemoryUsage(), metrics)
    metrics.budget = budget
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://circle")
    return ProviderHttp("circle", client, metrics), registry, budget


def calls(registry: CollectorRegistry, kind: str, outcome: str) -> float:
    labels = {"integration": "circle", "kind": kind, "outcome": outcome}
    return registry.get_sample_value("switchboard_provider_requests_total", labels) or 0


@pytest.mark.parametrize(
    ("method", "path", "ok", "kind", "outcome"),
    [
        ("GET", "/ok", (200,), "read", "ok"),
        ("GET", "/missing", (200, 404), "read", "ok"),  # "not there", as the caller expects
        ("POST", "/limited", (200,), "write", "rate_limited"),
        ("DELETE", "/missing", (200,), "write", "client_error"),
        ("PUT", "/bad", (200,), "write", "client_error"),
        ("POST", "/broken", (200,), "write", "server_error"),
        ("GET", "/slow", (200,), "read", "timeout"),
        ("POST", "/down", (200,), "write", "connection"),
    ],
)
async def test_each_call_is_counted_by_kind_and_outcome(
    method: str, path: str, ok: tuple[int, ...], kind: str, outcome: str
) -> None:
    http, registry, budget = worker()
    with contextlib.suppress(ProviderError):
        await http.request(method, path, ok=ok)
    assert calls(registry, kind, outcome) == 1
    counted = outcome not in ("server_error", "connection")  # Circle counts 4xx and 429 too
    assert budget.usage.used == (1 if counted else 0)


async def test_a_call_waits_for_its_turn_before_it_is_sent() -> None:
    http, _, budget = worker()
    sent: list[str] = []

    now = [0.0]

    async def sleep(seconds: float) -> bool:
        sent.append(f"waited {seconds}")
        now[0] += seconds
        return True

    budget.pacer = Pacer(1, 5.0, clock=lambda: now[0], sleep=sleep, margin=0)
    await http.request("GET", "/ok")
    assert sent == []
    now[0] = 2.0
    await http.request("GET", "/ok")
    assert sent == ["waited 3.0"]


async def test_the_month_reaches_the_store_in_one_write_per_flush_and_the_gauge_reads_it() -> None:
    store = InMemoryUsage()
    registry = CollectorRegistry()
    gauge = WorkerMetrics(registry).quota_used
    clock = Clock(datetime(2026, 3, 31, 23, 59, tzinfo=UTC))
    usage = MonthlyUsage("circle", store, 5000, gauge, clock=clock)
    await store.add("circle", "2026-03", 2000)  # other replicas, earlier runs
    for _ in range(500):
        usage.count()
    assert store.writes == 1  # nothing written per call
    await usage.flush()
    assert (store.writes, usage.used) == (2, 2500)
    assert registry.get_sample_value(
        "switchboard_provider_quota_used_ratio", {"integration": "circle"}
    ) == pytest.approx(0.5)
    clock.at = datetime(2026, 4, 1, 0, 1, tzinfo=UTC)  # a new month starts at 0
    usage.count()
    assert usage.used == 1
    await usage.flush()
    assert store.calls[("circle", "2026-04")] == 1


async def test_a_failed_flush_keeps_the_count_for_the_next() -> None:
    class Down(InMemoryUsage):
        async def add(self, integration: str, month: str, calls: int) -> None:
            raise ConnectionError

    store = Down()
    usage = MonthlyUsage("circle", store, 0, clock=Clock(datetime(2026, 3, 1, tzinfo=UTC)))
    usage.count(3)
    await usage.close()  # logs, does not raise
    assert usage.used == 3
