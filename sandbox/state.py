"""Everything the sandbox holds, in one object the app keeps on `app.state.sandbox`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sandbox.circle.store import CircleStore
from sandbox.faults import FaultBook
from sandbox.guard import MUTATING_METHODS
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

    requests: mutating calls that reached the provider's logic (what a test compares);
    reads: the same for GETs; faulted: answered by an injected status or dropped;
    delayed: slowed by a latency fault, then answered normally (also in requests/reads);
    rejected: refused for a bad credential or the rate limit.
    """

    requests: Counter[str] = field(default_factory=Counter)
    reads: Counter[str] = field(default_factory=Counter)
    faulted: Counter[str] = field(default_factory=Counter)
    delayed: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)

    def record(self, method: str, key: str) -> None:
        (self.requests if method in MUTATING_METHODS else self.reads)[key] += 1

    def clear(self) -> None:
        for counter in (self.requests, self.reads, self.faulted, self.delayed, self.rejected):
            counter.clear()

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {
            "requests": dict(self.requests),
            "reads": dict(self.reads),
            "faulted": dict(self.faulted),
            "delayed": dict(self.delayed),
            "rejected": dict(self.rejected),
        }


class Sandbox:
    def __init__(self, settings: SandboxSettings, clock: Clock = WALL_CLOCK) -> None:
        self.settings = settings
        self.circle = CircleStore(settings.circle_access_groups, clock)
        self.kit = KitStore(clock)
        self.hubspot = HubSpotStore(settings.hubspot_custom_properties, clock)
        self.zendesk = ZendeskStore(
            settings.zendesk_email, settings.sandbox_zendesk_idempotency_ttl_s, clock
        )
        self.stripe = StripeStore()
        self.logs = {name: RequestLog() for name in PROVIDERS}
        self.limiters = {name: RateLimiter(settings.rate_limit(name)) for name in PROVIDERS}
        self.faults = FaultBook()

    def reset(self, provider: str | None = None) -> None:
        """Forget records, counts, rate-limit windows and faults (seeded access groups stay)."""
        for name in PROVIDERS if provider is None else (provider,):
            getattr(self, name).reset()
            self.logs[name].clear()
            self.limiters[name].reset()
        self.faults.clear(provider)

    def snapshot(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            name: {**getattr(self, name).snapshot(), **self.logs[name].snapshot()}
            for name in PROVIDERS
        }
        state["faults"] = [f.as_json() for f in self.faults.active]
        return state
