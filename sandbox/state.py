"""Everything the sandbox holds, in one object the app keeps on `app.state.sandbox`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sandbox.circle.store import CircleStore
from sandbox.consistency import Consistency
from sandbox.doctor import DoctorConfig
from sandbox.faults import FaultBook
from sandbox.hubspot.store import HubSpotStore
from sandbox.kit.store import KitStore
from sandbox.ratelimit import RateLimiter
from sandbox.records import WALL_CLOCK, Clock
from sandbox.settings import SandboxSettings
from sandbox.stripe.store import StripeStore
from sandbox.zendesk.store import ZendeskStore

PROVIDERS = ("circle", "kit", "hubspot", "zendesk", "stripe")


@dataclass
class RequestLog:
    """Counts by "METHOD /path/template", e.g. "POST /v4/tags/{tag_id}/subscribers".

    requests: mutating calls that reached the provider's logic, once their body had arrived
    (what a test compares: one grant, not two);
    reads: every non-mutating call the provider answered, whatever the answer: 2xx, 4xx, a
    refused 401/429 or an injected error status (real quotas count those too; Circle's does).
    A POST that only reads (HubSpot's CRM search, `ProviderSpec.read_only`) is a read;
    faulted: answered by an injected status or dropped (a drop has no answer: not in reads);
    delayed: slowed by a latency fault, then answered normally (also in requests/reads);
    rejected: refused for a bad credential or the rate limit (a refused read is also in reads);
    calls: every call the provider answered, reads and writes, what a provider's quota would
    charge: `reads` + `requests` + the writes refused or answered by an injected status.
    """

    requests: Counter[str] = field(default_factory=Counter)
    reads: Counter[str] = field(default_factory=Counter)
    faulted: Counter[str] = field(default_factory=Counter)
    delayed: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    # Writes answered without reaching the provider's logic (refused, or an injected status).
    unserved_writes: int = 0

    # `write` says whether the call changes the provider's state (`ProviderSpec.writes`).
    def record(self, key: str, *, write: bool) -> None:
        """A call that reached the provider's logic (its body has arrived)."""
        (self.requests if write else self.reads)[key] += 1

    def refuse(self, key: str, *, write: bool) -> None:
        """A call answered 401 or 429 before the provider's logic."""
        self.rejected[key] += 1
        self._answered_early(key, write=write)

    def fault(self, key: str, *, write: bool, answered: bool) -> None:
        """A call taken by an injected fault: answered with its status, or dropped."""
        self.faulted[key] += 1
        if answered:
            self._answered_early(key, write=write)

    def _answered_early(self, key: str, *, write: bool) -> None:
        if write:
            self.unserved_writes += 1
        else:
            self.reads[key] += 1

    @property
    def calls(self) -> int:
        return sum(self.reads.values()) + sum(self.requests.values()) + self.unserved_writes

    def clear(self) -> None:
        for counter in (self.requests, self.reads, self.faulted, self.delayed, self.rejected):
            counter.clear()
        self.unserved_writes = 0

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "reads": dict(self.reads),
            "faulted": dict(self.faulted),
            "delayed": dict(self.delayed),
            "rejected": dict(self.rejected),
            "calls": self.calls,
        }


class Sandbox:
    def __init__(self, settings: SandboxSettings, clock: Clock = WALL_CLOCK) -> None:
        self.settings = settings
        self.circle = CircleStore(settings.circle_access_groups, clock)
        self.kit = KitStore(clock, settings.sandbox_kit_list_lag_s, settings.kit_tags)
        self.hubspot = HubSpotStore(
            settings.hubspot_custom_properties, clock, settings.sandbox_hubspot_search_lag_s
        )
        self.zendesk = ZendeskStore(
            settings.zendesk_email, settings.sandbox_zendesk_idempotency_ttl_s, clock
        )
        self.stripe = StripeStore()
        self.logs = {name: RequestLog() for name in PROVIDERS}
        self.limiters = {name: RateLimiter(settings.rate_limit(name)) for name in PROVIDERS}
        # HubSpot's CRM search has its own, lower limit, on top of the account's general one.
        self.hubspot_search_limiter = RateLimiter(settings.rate_limit("hubspot_search"))
        self.faults = FaultBook()
        # The account settings `switchboard doctor` reads; healthy until a test changes them.
        self.doctor = DoctorConfig()

    @property
    def consistency(self) -> Consistency:
        return Consistency(
            kit_list_lag_s=self.kit.list_lag_s, hubspot_search_lag_s=self.hubspot.index.lag_s
        )

    @consistency.setter
    def consistency(self, lags: Consistency) -> None:
        self.kit.list_lag_s = lags.kit_list_lag_s
        self.hubspot.index.lag_s = lags.hubspot_search_lag_s

    def reset(self, provider: str | None = None) -> None:
        """Forget records, counts, rate-limit windows and faults (seeded access groups stay);
        the lags go back to the configured ones."""
        for name in PROVIDERS if provider is None else (provider,):
            getattr(self, name).reset()
            self.logs[name].clear()
            self.limiters[name].reset()
            if name == "kit":
                self.kit.list_lag_s = self.settings.sandbox_kit_list_lag_s
            if name == "hubspot":
                self.hubspot_search_limiter.reset()
                self.hubspot.index.lag_s = self.settings.sandbox_hubspot_search_lag_s
        self.faults.clear(provider)
        if provider is None:
            self.doctor = DoctorConfig()

    def snapshot(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            name: {**getattr(self, name).snapshot(), **self.logs[name].snapshot()}
            for name in PROVIDERS
        }
        state["faults"] = [f.as_json() for f in self.faults.active]
        return state
