"""A worker's provider budget: the pacer every call waits on, and the month's calls against
the quota. Built from the worker's settings (`WorkerSettings.rate_limit` and friends)."""

from __future__ import annotations

from dataclasses import dataclass

from .integration import WorkerSettings
from .pacing import Pacer
from .provider_usage import MonthlyUsage, UsageStore
from .worker_metrics import WorkerMetrics

#: outcomes a provider does not count against a quota: a 5xx (Circle's rule), or no answer
NOT_COUNTED = frozenset({"server_error", "connection"})


@dataclass
class ProviderBudget:
    pacer: Pacer
    usage: MonthlyUsage

    @classmethod
    def for_worker(
        cls, name: str, settings: WorkerSettings, store: UsageStore, metrics: WorkerMetrics
    ) -> ProviderBudget:
        pacer = Pacer(settings.rate_limit, settings.rate_window_seconds, replicas=settings.replicas)
        usage = MonthlyUsage(name, store, settings.monthly_quota, metrics.quota_used)
        return cls(pacer, usage)

    def spent(self, outcome: str) -> None:
        """A call ended with `outcome`; count it against the month unless the provider did not."""
        if outcome not in NOT_COUNTED:
            self.usage.count()

    def stop(self) -> None:
        self.pacer.stop()

    async def close(self) -> None:
        await self.usage.close()
