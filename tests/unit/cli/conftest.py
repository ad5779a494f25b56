"""Helpers for the command's unit tests: captured streams, settings that name no real server,
and a fake worker that takes sweeps from the in-memory store as a worker replica would."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field

import pytest

from libs.reconcile.records import (
    DriftKind,
    Finding,
    Progress,
    SweepRecord,
    SweepState,
    summarize,
)
from libs.reconcile.store import InMemorySweepStore
from libs.runtime.clock import now
from services.cli.main import Deps
from services.cli.settings import CliSettings
from services.cli.terminal import Terminal

ADMIN_TOKEN = "admin-token-never-printed"
SUPPORT = "http://support.test"


@dataclass
class Captured:
    stdout: io.StringIO = field(default_factory=io.StringIO)
    stderr: io.StringIO = field(default_factory=io.StringIO)

    @property
    def terminal(self) -> Terminal:
        return Terminal(stdout=self.stdout, stderr=self.stderr)

    @property
    def out(self) -> str:
        return self.stdout.getvalue()

    @property
    def err(self) -> str:
        return self.stderr.getvalue()


@pytest.fixture
def captured() -> Captured:
    return Captured()


@pytest.fixture
def settings() -> CliSettings:
    return CliSettings(env="local", support_url=SUPPORT, admin_tokens=ADMIN_TOKEN, mongodb_uri="")


def deps(captured: Captured, settings: CliSettings, **more: object) -> Deps:
    return Deps(terminal=captured.terminal, settings=settings, **more)  # type: ignore[arg-type]


def finding(email: str, *kinds: DriftKind, outcome: str = "repaired") -> Finding:
    return Finding(
        customer_id=f"cus_{email.split('@')[0]}",
        email=email,
        kinds=kinds,
        actions=("add_to_group:Members",),
        outcome=outcome,
    )


async def next_request(store: InMemorySweepStore, integration: str) -> SweepRecord:
    """Wait for the command's request, as a worker polls for one."""
    for _ in range(2500):
        request = await store.next_requested(integration)
        if request is not None:
            return request
        await asyncio.sleep(0.002)
    raise AssertionError(f"no {integration} sweep was requested")


async def fake_worker(
    store: InMemorySweepStore,
    integration: str,
    *,
    state: SweepState = SweepState.DONE,
    findings: tuple[Finding, ...] = (),
    reason: str | None = None,
    checked: int = 10,
    run_for: float = 0.03,
) -> SweepRecord:
    """Take the next request for `integration`, report progress, and end it in `state`."""
    request = await next_request(store, integration)
    started = await store.start(request.sweep_id, f"{integration}-worker-1")
    assert started is not None
    await store.progress(
        request.sweep_id, Progress(phase="reading", pages=1, calls=1, checked=checked // 2)
    )
    await asyncio.sleep(run_for)
    current = await store.get(request.sweep_id)
    assert current is not None
    summary = (
        summarize(list(findings), checked=checked, calls=3, seconds=run_for)
        if state is SweepState.DONE
        else None
    )
    finished = current.model_copy(
        update={
            "state": state,
            "progress": Progress(phase="done", pages=2, calls=3, checked=checked),
            "summary": summary,
            "findings": findings,
            "reason": reason,
            "finished_at": now(),
        }
    )
    await store.save(finished)
    return finished
