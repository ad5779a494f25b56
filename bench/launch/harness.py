"""One launch run against a started stack: the refunded customers buy and converge first; then
the burst (N purchases over the sending window, R refunds 10 s in) while the sandbox is sampled
for convergence and access removal; counters are read before and after, from the outside."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from bench.launch import workload as w
from bench.soak.delivery import StripeSender
from bench.soak.observe import all_statuses
from bench.soak.scenario import Customer, EventSpec, Expected, event_payload
from bench.soak.verdicts import index, progress


@dataclass
class Config:
    purchases: int = 1000
    refunds: int = 20
    window: float = 60.0  # the purchases are sent within this many seconds
    refunds_at: float = 10.0  # seconds into the burst
    timeout: float = 900.0  # the whole run, setup included
    progress_every: float = 10.0


class Clock:
    def __init__(self, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout

    @property
    def left(self) -> float:
        return self.deadline - time.monotonic()


class Launch:
    def __init__(
        self,
        cfg: Config,
        client: httpx.AsyncClient,
        sandbox: str,
        ingest: str,
        workers: dict[str, str],
        run_id: str,
    ) -> None:
        self.cfg, self.client, self.sandbox, self.workers = cfg, client, sandbox, workers
        self.ingest = ingest
        self.clock = Clock(cfg.timeout)
        self.sender = StripeSender(client, f"{ingest}/webhooks/stripe")
        self.early, self.burst = w.make_customers(
            cfg.purchases, cfg.refunds, run_id, int(time.time())
        )
        self.state: dict[str, Any] = {}

    async def fetch(self) -> dict[str, Any]:
        answer = await self.client.get(f"{self.sandbox}/_sandbox/state", timeout=60)
        answer.raise_for_status()
        self.state = answer.json()
        return self.state

    async def worker_429s(self) -> dict[str, int]:
        """429 answers the workers saw, from their call-latency histograms' counts."""
        found: Counter[str] = Counter()
        for name, base in self.workers.items():
            try:
                text = (await self.client.get(f"{base}/metrics", timeout=5)).text
            except httpx.HTTPError:
                continue
            for line in text.splitlines():
                if line.startswith("switchboard_downstream_request_seconds_count{") and (
                    'status="429"' in line
                ):
                    found[name] += int(float(line.rsplit(" ", 1)[1]))
        return dict(found)

    def send(self, spec: EventSpec, c: Customer) -> None:
        self.sender.deliver(spec.event_id, event_payload(spec, c))

    async def converged(self, expected: dict[str, Expected]) -> int:
        count, _ = await asyncio.to_thread(progress, expected, await self.fetch())
        return count

    async def setup(self) -> float:
        """The refunded customers buy and converge; then the counters go quiet and the rate
        windows clear, so the burst starts from rest."""
        started = time.monotonic()
        for c in self.early:
            for spec in w.purchase_events(c):
                self.send(spec, c)
            await asyncio.sleep(0.2)
        expected = {c.email: Expected("active") for c in self.early}
        while (n := await self.converged(expected)) < len(expected):
            if self.clock.left <= 0:
                raise TimeoutError(f"setup: {n}/{len(expected)} converged")
            await asyncio.sleep(2)
        print(
            f"setup: {len(self.early)} customers converged in {time.monotonic() - started:.0f} s",
            flush=True,
        )
        await self.quiet(10.0, 120.0)
        rest = w.PUBLISHED["kit"][1]  # the longest window the burst could find in use
        print(f"setup: waiting {rest:.0f} s for the rate windows to clear", flush=True)
        await asyncio.sleep(rest)
        return time.monotonic() - started

    async def quiet(self, still: float, most: float) -> None:
        """Wait until no provider call was made for `still` s (at most `most` s)."""
        end = min(time.monotonic() + most, self.clock.deadline)
        last, since = -1, time.monotonic()
        while time.monotonic() < end:
            calls = sum(v["calls"] for v in w.counters(await self.fetch()).values())
            if calls != last:
                last, since = calls, time.monotonic()
            elif time.monotonic() - since >= still:
                return
            await asyncio.sleep(2)

    async def sending(self, t0: float, refund_sent: dict[str, float]) -> None:
        cfg = self.cfg
        plan: list[tuple[float, Customer, EventSpec]] = []
        for i, c in enumerate(self.burst):
            at = cfg.window * i / max(len(self.burst), 1)
            plan += [(at, c, spec) for spec in w.purchase_events(c)]
        now = int(time.time())
        for j, c in enumerate(self.early):
            plan.append((cfg.refunds_at + 0.05 * j, c, w.refund_event(c, now)))
        plan.sort(key=lambda item: item[0])
        for at, c, spec in plan:
            await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
            self.send(spec, c)
            if spec.kind == "refund":
                refund_sent[c.email] = time.monotonic() - t0

    async def run(self) -> dict[str, Any]:
        cfg = self.cfg
        setup_seconds = await self.setup()
        before, before_429 = w.counters(await self.fetch()), await self.worker_429s()
        expected = {c.email: Expected("active") for c in self.burst}
        refunded = {c.email: Expected("canceled") for c in self.early}
        curve: list[tuple[float, int]] = []
        refund_sent: dict[str, float] = {}
        removed: dict[str, float] = {}
        t0 = time.monotonic()
        sender = asyncio.create_task(self.sending(t0, refund_sent))
        last_print, why = -cfg.progress_every, "timeout"
        refunds_converged_at: float | None = None
        while self.clock.left > 0:
            state = await self.fetch()
            now = time.monotonic() - t0
            p = await asyncio.to_thread(index, state)
            for email, sent in refund_sent.items():
                if email not in removed and w.access_removed(email, p):
                    removed[email] = round(now - sent, 1)
            count, _ = await asyncio.to_thread(progress, expected, state)
            curve.append((round(now, 1), count))
            done_refunds, _ = await asyncio.to_thread(progress, refunded, state)
            if done_refunds == len(refunded) and refunds_converged_at is None:
                refunds_converged_at = round(now, 1)
            if now - last_print >= cfg.progress_every:
                last_print = now
                c = w.counters(state)
                print(
                    f"[{now:5.0f}s] sent {self.sender.sent} accepted "
                    f"{len(self.sender.accepted_events)} converged {count}/{len(expected)} "
                    f"refunds removed {len(removed)}/{len(self.early)} calls circle "
                    f"{c['circle']['calls']} kit {c['kit']['calls']} hubspot "
                    f"{c['hubspot']['calls']} rejected "
                    f"{sum(c[x]['rejected'] for x in w.PROVIDERS)}",
                    flush=True,
                )
            if sender.done() and count == len(expected) and refunds_converged_at is not None:
                why = "all_converged"
                break
            await asyncio.sleep(1.0 if len(removed) < len(self.early) else 3.0)
        converged_seconds = curve[-1][0] if why == "all_converged" else None
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        await self.quiet(10.0, 90.0)
        after, after_429 = w.counters(await self.fetch()), await self.worker_429s()
        statuses = await all_statuses(self.client, self.ingest, [*expected, *refunded])
        await self.sender.wait_accepted(within=max(1.0, min(30.0, self.clock.left)))
        spent = w.delta(after, before)
        bound = w.bounds(cfg.purchases, cfg.refunds)
        times = list(removed.values())
        return {
            "config": asdict(cfg),
            "limits": {p: {"limit": lim, "window_s": win} for p, (lim, win) in w.PUBLISHED.items()},
            "setup_seconds": round(setup_seconds, 1),
            "stopped": why,
            "bound": {
                "seconds": round(bound[0].seconds, 1),
                "provider": bound[0].provider,
                "by_provider": {
                    b.provider: {
                        "least_calls": b.calls,
                        "rate_per_s": round(b.rate_per_s, 3),
                        "seconds": round(b.seconds, 1),
                    }
                    for b in bound
                },
            },
            "converged_seconds": converged_seconds,
            "converged_at_end": curve[-1][1] if curve else 0,
            "converged_over_bound": (
                round(converged_seconds / bound[0].seconds, 2) if converged_seconds else None
            ),
            "refunds_converged_seconds": refunds_converged_at,
            "calls_in_burst": spent,
            # the burst's calls include the R refunds' (R is small beside N)
            "calls_per_purchase": w.per_customer(spent, cfg.purchases),
            # the setup's purchases, alone on a quiet stack (paid -> active follow-ups included)
            "calls_per_purchase_setup": w.per_customer(before, cfg.refunds),
            "refund_access_removed_seconds": {
                "p50": w.percentile(times, 50),
                "p99": w.percentile(times, 99),
                "max": max(times, default=None),
                "removed": len(times),
                "refunds": cfg.refunds,
                "each": times,
            },
            "rejected_429_sandbox": {p: spent[p]["rejected"] for p in w.PROVIDERS},
            "worker_429s": {k: v - before_429.get(k, 0) for k, v in after_429.items()},
            "tickets_opened": spent["zendesk"]["tickets"],
            "status_api_lifecycles": dict(Counter(str(s.lifecycle) for s in statuses.values())),
            "delivery": self.sender.summary(),
            "series": {
                "converged": curve,
                "refunds_removed": sorted(
                    [refund_sent[e], refund_sent[e] + t] for e, t in removed.items()
                ),
            },
        }
