"""A sweep's share of the provider: its own pacer at `reconcile_budget_share` of the worker's
rate (the worker's pacer still applies: together they never pass the provider's limit), and,
where the provider has a monthly quota (Circle Business: 5,000 calls, errors included), the
same share of the month. Pages of a sweep wait behind the worker's steps (`BACKGROUND`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from libs.runtime.integration import WorkerSettings
from libs.runtime.pacing import Pacer


class QuotaShareSpent(Exception):
    """The sweeps' share of the provider's monthly quota is spent."""


def sweep_pacer(settings: WorkerSettings) -> Pacer | None:
    if settings.rate_limit <= 0:
        return None
    share = max(1, int(settings.rate_limit * settings.reconcile_budget_share))
    return Pacer(share, settings.rate_window_seconds, replicas=settings.replicas)


def monthly_allowance(settings: WorkerSettings) -> int | None:
    """Calls all sweeps together may spend this month (None: the provider has no quota)."""
    if settings.monthly_quota <= 0:
        return None
    return int(settings.monthly_quota * settings.reconcile_budget_share)


class PageBudget:
    """Counts a sweep's calls and paces them; `on_call` reports progress (rate-limited by the
    caller). `spent_before` is what earlier sweeps spent this month."""

    def __init__(
        self,
        pacer: Pacer | None,
        *,
        allowance: int | None,
        spent_before: int = 0,
        on_call: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.pacer = pacer
        self.allowance = allowance
        self.spent_before = spent_before
        self.calls = 0
        self.waited = 0.0
        self._on_call = on_call

    async def turn(self) -> None:
        if self.allowance is not None and self.spent_before + self.calls >= self.allowance:
            raise QuotaShareSpent(
                f"the sweeps' share of the monthly quota is spent ({self.allowance} calls)"
            )
        if self.pacer is not None:
            started = time.monotonic()
            await self.pacer.acquire()
            self.waited += time.monotonic() - started
        self.calls += 1
        if self._on_call is not None:
            await self._on_call()
