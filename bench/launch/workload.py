"""What the launch benchmark sends and the figures it derives. Pure: no I/O, no clock.

N new purchases (checkout.session.completed + invoice.paid, built by the soak's scenario code from
sandbox/stripe) spread over the sending window, and R refunds (charge.refunded) of customers who
bought before the burst. The quota bound: the least calls the burst needs at each provider
(../shared/DESIGN.md, "Provider calls are a budget") divided by that provider's published rate;
the slowest provider sets it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from bench.soak.scenario import DAY, Customer, EventSpec
from bench.soak.verdicts import Providers

#: the providers' published limits (requests, window seconds); the sandbox's defaults too
PUBLISHED: Final[dict[str, tuple[int, float]]] = {
    "circle": (2000, 300.0),
    "kit": (120, 60.0),
    "hubspot": (100, 10.0),
    "zendesk": (200, 60.0),
    "stripe": (100, 1.0),
}
#: the least calls per new purchase the APIs allow (HubSpot: one batch upsert per 100 customers)
LEAST_PER_PURCHASE: Final[dict[str, float]] = {"circle": 2.0, "kit": 2.0, "hubspot": 1 / 100}
#: the least calls per refund (Circle: revoke; Kit: remove `customer`, add `churned`; HubSpot: 1)
LEAST_PER_REFUND: Final[dict[str, float]] = {"circle": 1.0, "kit": 2.0, "hubspot": 1.0}
PROVIDERS: Final = ("circle", "kit", "hubspot")


def customer(run_id: str, index: int, story: str, purchased_at: int) -> Customer:
    tag = f"{run_id}{index:06d}"
    return Customer(
        index=index,
        email=f"launch.{run_id}.{index}@example.com",
        story=story,
        customer_id=f"cus_launch{tag}",
        subscription_id=f"sub_launch{tag}",
        invoice_id=f"in_launch{tag}",
        charge_id=f"ch_launch{tag}",
        purchased_at=purchased_at,
    )


def make_customers(
    purchases: int, refunds: int, run_id: str, now: int
) -> tuple[list[Customer], list[Customer]]:
    """(the refunded customers, who buy in the setup; the burst's new customers)."""
    base = now - 30 * DAY
    early = [customer(run_id, i, "refund", base + i * 60) for i in range(refunds)]
    burst = [customer(run_id, refunds + i, "purchase", now - 3600 + i) for i in range(purchases)]
    return early, burst


def purchase_events(c: Customer) -> list[EventSpec]:
    prefix = f"evt_launch_{c.customer_id[10:]}"
    return [
        EventSpec(f"{prefix}_checkout", c.index, "checkout", c.purchased_at),
        EventSpec(f"{prefix}_invoice", c.index, "invoice_paid", c.purchased_at + 1),
    ]


def refund_event(c: Customer, created: int) -> EventSpec:
    return EventSpec(f"evt_launch_{c.customer_id[10:]}_refund", c.index, "refund", created)


@dataclass(frozen=True)
class Bound:
    provider: str
    calls: float
    rate_per_s: float

    @property
    def seconds(self) -> float:
        return self.calls / self.rate_per_s


def bounds(
    purchases: int, refunds: int, limits: dict[str, tuple[int, float]] = PUBLISHED
) -> list[Bound]:
    """Per provider, the least calls the burst needs and the time they take at the published
    rate; slowest first."""
    out = []
    for p in PROVIDERS:
        calls = math.ceil(purchases * LEAST_PER_PURCHASE[p] + refunds * LEAST_PER_REFUND[p])
        limit, window = limits[p]
        out.append(Bound(p, calls, limit / window))
    return sorted(out, key=lambda b: b.seconds, reverse=True)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100), nearest rank: a value that was measured; None if empty."""
    if not values:
        return None
    ranked = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ranked)))
    return ranked[rank - 1]


def access_removed(email: str, p: Providers) -> bool:
    """No Circle member of the email in the paid group, and no Kit `customer` tag."""
    if any("Members" in m["access_groups"] for m in p.members.get(email, [])):
        return False
    return not any("customer" in s["tags"] for s in p.subscribers.get(email, []))


def counters(state: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per provider: reads, writes (reached the logic), calls (every answered call), rejected
    (401/429 refusals); tickets for Zendesk."""
    out: dict[str, dict[str, int]] = {}
    for p in (*PROVIDERS, "zendesk"):
        s = state.get(p, {})
        out[p] = {
            "reads": sum(s.get("reads", {}).values()),
            "writes": sum(s.get("requests", {}).values()),
            "calls": int(s.get("calls", 0)),
            "rejected": sum(s.get("rejected", {}).values()),
        }
    out["zendesk"]["tickets"] = len(state.get("zendesk", {}).get("tickets", []))
    return out


def delta(
    after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    return {
        p: {k: v - before.get(p, {}).get(k, 0) for k, v in figures.items()}
        for p, figures in after.items()
    }


def per_customer(d: dict[str, dict[str, int]], n: int) -> dict[str, dict[str, float]]:
    return {
        p: {k: round(d[p][k] / max(n, 1), 2) for k in ("reads", "writes", "calls")}
        for p in PROVIDERS
    }


def rate_limit_env(limits: dict[str, tuple[int, float]] = PUBLISHED) -> dict[str, str]:
    """The sandbox's settings for the given limits (sandbox/settings.py)."""
    env = {}
    for p, (limit, window) in limits.items():
        env[f"SWITCHBOARD_SANDBOX_{p.upper()}_RATE_LIMIT"] = str(limit)
        env[f"SWITCHBOARD_SANDBOX_{p.upper()}_RATE_WINDOW_S"] = str(window)
    return env
