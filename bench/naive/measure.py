"""What ended up in the sandbox: effects lost or doubled per customer, the writes each system
spent, and when each purchase's three effects were all in place (polled once a second)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.naive.workload import PROVIDERS, Customers

State = dict[str, Any]
#: account setup, not per-customer work: creating the tag or group a step needs, once
SETUP_WRITES = {
    "POST /v4/tags",
    "POST /api/admin/v2/access_groups",
    "POST /crm/v3/properties/contacts",
}
GRANT = "POST /api/admin/v2/access_groups/{id}/community_members"
TAG = "POST /v4/tags/{tag_id}/subscribers"


@dataclass
class Effects:
    """Per email, what each provider holds for it."""

    circle: dict[str, list[str]] = field(default_factory=dict)  # email -> access groups
    kit: dict[str, list[str]] = field(default_factory=dict)  # email -> tags
    hubspot: dict[str, str] = field(default_factory=dict)  # email -> lifecyclestage
    records: Counter[tuple[str, str]] = field(default_factory=Counter)  # (provider, email) -> n

    @classmethod
    def of(cls, state: State) -> Effects:
        effects = cls()
        seen = effects.records
        for member in state["circle"]["members"]:
            email = member["email"].lower()
            effects.circle[email] = list(member.get("access_groups", []))
            seen["circle", email] += 1
        for sub in state["kit"]["subscribers"]:
            email = sub["email_address"].lower()
            effects.kit[email] = list(sub.get("tags", []))
            seen["kit", email] += 1
        for contact in state["hubspot"]["contacts"]:
            email = str(contact["properties"].get("email") or "").lower()
            effects.hubspot[email] = str(contact["properties"].get("lifecyclestage") or "")
            seen["hubspot", email] += 1
        return effects

    def granted(self, email: str) -> dict[str, bool]:
        e = email.lower()
        return {
            "circle": "Members" in self.circle.get(e, []),
            "kit": "customer" in self.kit.get(e, []),
            "hubspot": self.hubspot.get(e) == "customer",
        }

    def revoked(self, email: str) -> bool:
        e = email.lower()
        return "Members" not in self.circle.get(e, []) and "customer" not in self.kit.get(e, [])


@dataclass
class Verdict:
    lost: int  # purchases missing at least one effect
    lost_by: dict[str, int]
    refund_missed: int  # refunded customers still in Members or still tagged `customer`
    duplicate_records: int
    writes: Counter[str]
    reads: Counter[str]
    calls: int  # every request that reached Circle, Kit and HubSpot, reads and setup included
    tickets: int


def requests(state: State, kind: str = "requests") -> Counter[str]:
    counts: Counter[str] = Counter()
    for provider in PROVIDERS:
        for key, n in state[provider][kind].items():
            counts[f"{provider} {key}"] += n
    return counts


def activity(state: State) -> int:
    return sum(
        sum(state[p]["requests"].values()) + sum(state[p]["reads"].values()) for p in PROVIDERS
    )


def judge(before: State, after: State, customers: Customers) -> Verdict:
    effects = Effects.of(after)
    emails = {e.lower() for e in customers.purchased + customers.refunded}
    lost_by: Counter[str] = Counter()
    lost = 0
    for email in customers.purchased:
        missing = [p for p, ok in effects.granted(email).items() if not ok]
        lost += bool(missing)
        lost_by.update(missing)
    missed = sum(not effects.revoked(e) for e in customers.refunded)
    dups = sum(n - 1 for (_, email), n in effects.records.items() if n > 1 and email in emails)
    writes = requests(after)
    writes.subtract(requests(before))
    writes = Counter(
        {k: v for k, v in writes.items() if v and k.split(" ", 1)[1] not in SETUP_WRITES}
    )
    tickets = len(after["zendesk"]["tickets"]) - len(before["zendesk"]["tickets"])
    reads = requests(after, "reads")
    reads.subtract(requests(before, "reads"))
    calls = activity(after) - activity(before)
    return Verdict(lost, dict(lost_by), missed, dups, writes, +reads, calls, tickets)


class Poller:
    """Reads `/_sandbox/state` every second; notes when each purchase was fully in place."""

    def __init__(self, client: httpx.AsyncClient, sandbox: str) -> None:
        self.client = client
        self.url = f"{sandbox}/_sandbox/state"
        self.done_at: dict[str, float] = {}
        self.state: State = {}

    async def read(self) -> State:
        response = await self.client.get(self.url, timeout=30)
        response.raise_for_status()
        self.state = dict(response.json())
        return self.state

    def _note(self, customers: Customers, start: float) -> bool:
        effects = Effects.of(self.state)
        now = time.monotonic() - start
        for email in customers.purchased:
            if email not in self.done_at and all(effects.granted(email).values()):
                self.done_at[email] = now
        complete = len(self.done_at) == len(customers.purchased)
        return complete and all(effects.revoked(e) for e in customers.refunded)

    async def follow(
        self, customers: Customers, start: float, sent: asyncio.Event, quiet: float, limit: float
    ) -> None:
        """Poll until the senders are done and the sandbox has settled: every expectation met
        and no provider call for 3 s, or no call at all for `quiet` s, or `limit` s in all."""
        last, still_since = -1, time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            await self.read()
            complete = self._note(customers, start)
            now, count = time.monotonic(), activity(self.state)
            if count != last:
                last, still_since = count, now
            if not sent.is_set():
                continue
            idle = now - still_since
            if (complete and idle >= 3) or idle >= quiet or now - start >= limit:
                return

    def effect_latencies(self, customers: Customers) -> list[float]:
        return [self.done_at[e] - customers.first_send[e] for e in self.done_at]
