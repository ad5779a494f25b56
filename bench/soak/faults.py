"""The fault schedule and the runner that applies it while the webhooks are being sent.

A step fires at a fraction of the planned sending time, so one schedule fits any run length;
outages last fixed seconds. Kinds: `kill` (SIGKILL one Switchboard service; the stack's
supervisor, or the runner itself, brings it back), `kafka` / `store` (stop Kafka or FerretDB
with `python -m deploy.local`, start them again after `seconds`), `sandbox` (a provider fault via
`POST /_sandbox/faults`: for `seconds`, or for its `count` requests). Every window actually
observed (start to recovered) is recorded for the report and the plot.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

REPO = Path(__file__).resolve().parents[2]
INFRA = [sys.executable, "-m", "deploy.local"]  # the local launcher
SERVICES = ("ingest", "circle_sync", "convertkit_sync", "crm_sync", "support")


@dataclass(frozen=True)
class Step:
    at: float  # fraction of the sending time
    kind: str  # kill / kafka / store / sandbox
    target: str = ""  # the service, or the provider of a sandbox fault
    seconds: float = 0.0
    fault: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.kind == "kill":
            return f"kill {self.target}"
        if self.kind in ("kafka", "store"):
            return f"{'Kafka' if self.kind == 'kafka' else 'FerretDB'} down {self.seconds:.0f}s"
        f = self.fault
        if "status" in f:
            what = str(f["status"])
        elif f.get("drop"):
            what = "dropped"
        else:
            what = f"+{f.get('latency_ms')}ms"
        return f"{self.target} {what}" + (f" x{f['count']}" if "count" in f else "")


def _kills(*ats: tuple[str, float]) -> list[Step]:
    return [Step(at, "kill", name) for name, at in ats]


def _sandbox(at: float, provider: str, seconds: float = 0.0, **fault: Any) -> Step:
    return Step(at, "sandbox", provider, seconds, {"provider": provider, **fault})


# Provider faults are placed away from the Kafka and store outages: while those last the
# workers call no provider, so a provider fault then would meet no traffic.
FULL: list[Step] = [
    _sandbox(0.03, "circle", status=503, count=30),
    _sandbox(0.06, "kit", 20, status=429),
    *_kills(("ingest", 0.08)),
    _sandbox(0.10, "hubspot", 60, latency_ms=3000),
    # longer than a step's retries (8, backoff to 30 s): steps fail, and their tickets meet
    # Zendesk dropping connections
    _sandbox(0.12, "circle", 90, status=503),
    _sandbox(0.14, "zendesk", 60, drop=True),
    *_kills(("circle_sync", 0.16), ("convertkit_sync", 0.20), ("crm_sync", 0.24)),
    *_kills(("support", 0.28)),
    Step(0.33, "kafka", seconds=30),
    _sandbox(0.45, "kit", 20, status=429),
    _sandbox(0.50, "circle", status=503, count=30),
    Step(0.55, "store", seconds=20),
    *_kills(("ingest", 0.64), ("circle_sync", 0.67), ("convertkit_sync", 0.70)),
    *_kills(("crm_sync", 0.73), ("support", 0.76)),
    _sandbox(0.80, "circle", status=503, count=30),
    _sandbox(0.84, "hubspot", 20, latency_ms=3000),
]
#: compressed for CI (a minute or two of sending): every kind once, outages of seconds
CI: list[Step] = [
    _sandbox(0.03, "circle", status=503, count=15),
    *_kills(("ingest", 0.05)),
    _sandbox(0.08, "kit", 6, status=429),
    _sandbox(0.10, "hubspot", 8, latency_ms=3000),
    _sandbox(0.14, "zendesk", 15, drop=True),
    _sandbox(0.15, "circle", 8, status=503),  # steps fail: tickets, while Zendesk drops
    *_kills(("circle_sync", 0.28), ("convertkit_sync", 0.31), ("crm_sync", 0.34)),
    Step(0.38, "kafka", seconds=10),
    Step(0.66, "store", seconds=6),
    *_kills(("support", 0.68)),
]
SCHEDULES: dict[str, list[Step]] = {"full": FULL, "ci": CI, "none": []}
#: settings the services get for a schedule. CI's outages last seconds, so it shortens Circle's
#: retries (its 8 s of 503s must make steps fail, to exercise incidents and tickets) and the
#: wait after a 429 without Retry-After (60 s by default: longer than the whole storm).
SCHEDULE_ENV: dict[str, dict[str, str]] = {
    "full": {},
    "ci": {
        "SWITCHBOARD_CIRCLE_RETRIES": "3",
        "SWITCHBOARD_CIRCLE_BACKOFF_BASE_SECONDS": "0.2",
        "SWITCHBOARD_CIRCLE_BACKOFF_MAX_SECONDS": "1",
        "SWITCHBOARD_RATE_LIMIT_WINDOW_SECONDS": "5",
    },
    "none": {},
}
#: when every fault is cleared (DELETE /_sandbox/faults); sending goes on to the end
CLEAR_AT = 0.88


class Services(Protocol):
    """What the runner needs from deploy.local.stack's Stack."""

    def kill(self, name: str) -> None: ...
    def restart(self, name: str) -> None: ...


@dataclass
class Window:
    label: str
    kind: str
    start: float  # seconds since the run's t0
    end: float | None = None
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        end = None if self.end is None else round(self.end, 2)
        return {
            "label": self.label,
            "kind": self.kind,
            "start": round(self.start, 2),
            "end": end,
            "note": self.note,
        }


class FaultRunner:
    def __init__(
        self,
        stack: Any,
        sandbox: str,
        infra_env: dict[str, str],
        t0: float,
        *,
        supervised: bool,
    ) -> None:
        self.stack = stack
        self.sandbox = sandbox
        self.infra_env = infra_env
        self.t0 = t0
        self.supervised = supervised
        self.windows: list[Window] = []
        self.cleared_at: float | None = None
        self.errors: list[str] = []

    def now(self) -> float:
        return time.monotonic() - self.t0

    async def run(self, steps: list[Step], send_seconds: float) -> None:
        """Fire every step at its time, clear everything at CLEAR_AT, wait for the recoveries."""
        tasks = [asyncio.create_task(self._at(s.at * send_seconds, s)) for s in steps]
        await self._sleep_until(CLEAR_AT * send_seconds)
        async with httpx.AsyncClient(timeout=30) as client:
            await client.delete(f"{self.sandbox}/_sandbox/faults")
        for window in self.windows:
            if window.kind == "sandbox" and window.end is None:
                window.end = self.now()
        await asyncio.gather(*tasks)
        self.cleared_at = max([self.now(), *(w.end or 0.0 for w in self.windows)])

    async def _sleep_until(self, at: float) -> None:
        await asyncio.sleep(max(0.0, at - self.now()))

    async def _at(self, at: float, step: Step) -> None:
        await self._sleep_until(at)
        window = Window(step.label, step.kind, self.now())
        self.windows.append(window)
        print(f"[{window.start:6.0f}s] fault: {step.label}", flush=True)
        try:
            if step.kind == "kill":
                await asyncio.to_thread(self._kill, step.target)
            elif step.kind in ("kafka", "store"):
                await self._outage("kafka" if step.kind == "kafka" else "ferretdb", step.seconds)
            else:
                await self._sandbox_fault(step, window)
        except Exception as exc:  # a fault that could not be applied is reported, not fatal
            window.note = f"{type(exc).__name__}: {exc}"[:300]
            self.errors.append(f"{step.label}: {window.note}")
        if window.end is None:
            window.end = self.now()
        took = window.end - window.start
        print(
            f"[{window.end:6.0f}s] fault over: {step.label} ({took:.1f} s) {window.note}",
            flush=True,
        )

    def _kill(self, name: str) -> None:
        self.stack.kill(name)
        if self.supervised:
            self.stack.wait_running(name, timeout=120)
        else:
            self.stack.restart(name)

    async def _outage(self, server: str, seconds: float) -> None:
        await asyncio.to_thread(self._infra, f"stop-{server}")
        await asyncio.sleep(seconds)
        # An outage ends: the server must come back, so a failed start is tried again.
        for attempt in range(1, 6):
            try:
                await asyncio.to_thread(self._infra, "start")
                return
            except RuntimeError:
                if attempt == 5:
                    raise
                await asyncio.sleep(2 * attempt)

    def _infra(self, command: str) -> None:
        done = subprocess.run(
            [*INFRA, command],
            cwd=REPO,
            env=self.infra_env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"deploy.local {command}: {done.stderr.strip()[-300:]}")

    async def _sandbox_fault(self, step: Step, window: Window) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.post(f"{self.sandbox}/_sandbox/faults", json=step.fault)
            answer.raise_for_status()
            fault_id = answer.json()["fault"]["id"]
            if "count" not in step.fault:
                await asyncio.sleep(step.seconds)
                if window.end is None:  # not cleared by CLEAR_AT meanwhile
                    params = {"provider": step.target}
                    await client.delete(f"{self.sandbox}/_sandbox/faults", params=params)
                return
            while window.end is None:  # a burst lasts until its count is used up
                active = (await client.get(f"{self.sandbox}/_sandbox/faults")).json()["faults"]
                if all(f["id"] != fault_id for f in active):
                    return
                await asyncio.sleep(1.0)
