"""What the harness watches during a run: the status API's latency (a probe about twice a
second, open loop, so a slow answer does not slow the probing), the convergence curve (sandbox
state every few seconds), and the final status of every customer."""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from bench.soak.scenario import Expected
from bench.soak.verdicts import Status, progress

APP_TOKEN = "local-app-token"
HEADERS = {"Authorization": f"Bearer {APP_TOKEN}"}


async def status_of(client: httpx.AsyncClient, ingest: str, email: str, limit: float) -> Status:
    try:
        async with asyncio.timeout(limit):
            answer = await client.get(
                f"{ingest}/v1/customers/status", params={"email": email}, headers=HEADERS
            )
    except (TimeoutError, httpx.HTTPError):
        return Status(None)
    if answer.status_code != 200:
        return Status(answer.status_code)
    try:
        body = answer.json()
        integrations = {k: v["status"] for k, v in body["integrations"].items()}
        reasons = {k: v.get("reason") for k, v in body["integrations"].items()}
        return Status(
            200, body["lifecycle"], integrations, bool(body.get("needs_support")), reasons
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return Status(-1)  # a 200 whose body is not the documented one


class StatusProbe:
    """GET /v1/customers/status for a random customer already sent, every `interval` s."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        ingest: str,
        emails: Callable[[], list[str]],
        t0: float,
        interval: float = 0.5,
        timeout: float = 10.0,
    ) -> None:
        self.client, self.ingest, self.emails = client, ingest, emails
        self.t0, self.interval, self.timeout = t0, interval, timeout
        #: (seconds since t0 at send, latency s or None when unanswered, status code or None)
        self.samples: list[tuple[float, float | None, int | None]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        rng = random.Random(3)
        while not stop.is_set():
            emails = self.emails()
            if emails:
                task = asyncio.create_task(self._one(rng.choice(emails)))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
        if self._running:
            await asyncio.wait(set(self._running), timeout=self.timeout + 1)

    async def _one(self, email: str) -> None:
        started = time.monotonic()
        status = await status_of(self.client, self.ingest, email, self.timeout)
        latency = None if status.code is None else time.monotonic() - started
        self.samples.append((started - self.t0, latency, status.code))

    def summary(self) -> dict[str, Any]:
        answered = [s[1] for s in self.samples if s[1] is not None]
        codes = Counter(str(s[2]) for s in self.samples)
        within = sum(
            1 for s in self.samples if s[1] is not None and s[1] <= 2.0 and s[2] in (200, 404)
        )
        out: dict[str, Any] = {
            "probes": len(self.samples),
            "answered": len(answered),
            "codes": dict(codes),
            "share_answered_ok_within_2s": round(within / max(len(self.samples), 1), 4),
        }
        if len(answered) >= 2:
            q = statistics.quantiles(answered, n=100, method="inclusive")
            out.update(
                p50_ms=round(q[49] * 1000, 1),
                p99_ms=round(q[98] * 1000, 1),
                max_ms=round(max(answered) * 1000, 1),
            )
        return out


class ConvergenceSampler:
    """The number of customers whose providers all match, sampled from the sandbox."""

    def __init__(
        self, client: httpx.AsyncClient, sandbox: str, expected: dict[str, Expected], t0: float
    ) -> None:
        self.client, self.sandbox, self.expected, self.t0 = client, sandbox, expected, t0
        self.curve: list[tuple[float, int]] = []  # converged
        self.settled: list[tuple[float, int]] = []  # converged or ticketed
        self.state: dict[str, Any] | None = None
        self.errors = 0

    async def sample(self) -> int | None:
        """Take the sandbox's state; the number of converged customers (None: no state)."""
        try:
            answer = await self.client.get(f"{self.sandbox}/_sandbox/state", timeout=60)
            answer.raise_for_status()
            self.state = answer.json()
        except (httpx.HTTPError, ValueError):
            self.errors += 1
            return None
        count, settled = await asyncio.to_thread(progress, self.expected, self.state)
        now = time.monotonic() - self.t0
        self.curve.append((now, count))
        self.settled.append((now, settled))
        return count

    async def run(self, stop: asyncio.Event, every: float) -> None:
        while not stop.is_set():
            await self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    @property
    def last(self) -> int:
        return self.curve[-1][1] if self.curve else 0


async def all_statuses(
    client: httpx.AsyncClient, ingest: str, emails: list[str], concurrency: int = 8
) -> dict[str, Status]:
    """Every customer's status; an unanswered one is asked once more at the end."""
    gate = asyncio.Semaphore(concurrency)
    found: dict[str, Status] = {}

    async def one(email: str) -> None:
        async with gate:
            found[email] = await status_of(client, ingest, email, 10.0)

    await asyncio.gather(*(one(e) for e in emails))
    await asyncio.gather(*(one(e) for e in emails if found[e].code is None))
    return found


class LagSampler:
    """Each worker's consumer lag on `customer.events` (its `/metrics`), summed over partitions:
    which worker is behind, and when. A worker that does not answer (killed) is left out."""

    def __init__(self, client: httpx.AsyncClient, workers: dict[str, str], t0: float) -> None:
        self.client, self.workers, self.t0 = client, workers, t0
        self.series: dict[str, list[tuple[float, int]]] = {name: [] for name in workers}

    async def sample(self) -> None:
        now = round(time.monotonic() - self.t0, 1)
        for name, base in self.workers.items():
            try:
                answer = await self.client.get(f"{base}/metrics", timeout=5)
            except httpx.HTTPError:
                continue
            total = 0.0
            for line in answer.text.splitlines():
                if line.startswith("switchboard_consumer_lag_messages{") and "-replay" not in line:
                    total += float(line.rsplit(" ", 1)[1])
            self.series[name].append((now, int(total)))

    async def run(self, stop: asyncio.Event, every: float) -> None:
        while not stop.is_set():
            await self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    def summary(self) -> dict[str, Any]:
        return {
            name: {"max": max((c for _, c in points), default=0), "max_at": _peak_at(points)}
            for name, points in self.series.items()
        }


def _peak_at(points: list[tuple[float, int]]) -> float | None:
    return max(points, key=lambda p: p[1])[0] if points else None
