"""The workload both systems get: the same purchases and refunds on the same schedule, and the
same provider faults on the same clock, per phase. Only the customers' emails differ
(`naive-…` vs `sb-…`), so the sandbox's records can be told apart."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import httpx

from bench.naive.sender import Delivery
from sandbox.stripe.webhook import encode

PROVIDERS = ("circle", "kit", "hubspot")


@dataclass(frozen=True)
class Phase:
    key: str
    title: str
    latency_ms: int = 0  # on every request to Circle, Kit and HubSpot
    outages: tuple[str, ...] = ()  # providers that answer 503 in bursts
    outage_share: float = 0.0  # share of the time each of them is down
    duplicates: bool = False  # each event delivered 2-3 times, some concurrently


PHASES = (
    Phase("a", "500 ms provider latency", latency_ms=500),
    Phase("b", "Circle and Kit 503 bursts", outages=("circle", "kit"), outage_share=0.25),
    Phase("c", "duplicate deliveries", latency_ms=100, duplicates=True),
)


@dataclass(frozen=True)
class Slot:
    """One delivery in the schedule, the same for both systems: which customer, which event."""

    at: float
    index: int
    refund: bool


@dataclass
class Customers:
    purchased: list[str] = field(default_factory=list)  # kept access: every effect expected
    refunded: list[str] = field(default_factory=list)  # access and tag must be gone
    first_send: dict[str, float] = field(default_factory=dict)  # email -> purchase sent at


def schedule(phase: Phase, count: int, rate: float, refund_every: int, seed: int) -> list[Slot]:
    rand = random.Random(f"{seed}-{phase.key}")
    events = [Slot(i / rate, i, False) for i in range(count)]
    events += [Slot(i / rate + 6.0, i, True) for i in range(count) if i % refund_every == 3]
    if not phase.duplicates:
        return events
    slots = []
    for slot in events:
        slots.append(slot)
        # The second copy: half at the very same moment, half within a few seconds.
        second = 0.0 if rand.random() < 0.5 else rand.uniform(0.2, 3.0)
        slots.append(Slot(slot.at + second, slot.index, slot.refund))
        if rand.random() < 0.5:  # a third, late: possibly after the refund
            slots.append(Slot(slot.at + rand.uniform(4.0, 15.0), slot.index, slot.refund))
    return slots


async def trigger(client: httpx.AsyncClient, sandbox: str, **body: object) -> dict[str, object]:
    response = await client.post(
        f"{sandbox}/_sandbox/stripe/trigger", json={**body, "deliver": False}
    )
    response.raise_for_status()
    return dict(response.json())


async def build(
    client: httpx.AsyncClient, sandbox: str, system: str, phase: Phase, slots: list[Slot], run: str
) -> tuple[list[Delivery], Customers]:
    """Create each customer's Stripe objects in the sandbox (no delivery) and the deliveries."""
    indexes = sorted({s.index for s in slots})
    refunded = {s.index for s in slots if s.refund}
    now = int(time.time())
    purchases: dict[int, tuple[str, str, bytes]] = {}
    refunds: dict[int, tuple[str, bytes]] = {}
    customers = Customers()
    for i in indexes:
        email = f"{system}-{phase.key}-{i}-{run}@example.com"
        made = await trigger(client, sandbox, scenario="purchase", email=email, created=now)
        purchases[i] = (email, str(made["event_id"]), encode(made["event"]))  # type: ignore[arg-type]
        if i in refunded:
            made = await trigger(
                client,
                sandbox,
                scenario="refund",
                email=email,
                customer=made["customer_id"],
                created=now + 2,
            )
            refunds[i] = (str(made["event_id"]), encode(made["event"]))  # type: ignore[arg-type]
            customers.refunded.append(email)
        else:
            customers.purchased.append(email)
    deliveries = []
    for slot in slots:
        email, purchase_id, purchase = purchases[slot.index]
        event_id, payload = refunds[slot.index] if slot.refund else (purchase_id, purchase)
        deliveries.append(Delivery(slot.at, event_id, email, payload))
        if not slot.refund:
            customers.first_send.setdefault(email, slot.at)
    return deliveries, customers


def outage_windows(phase: Phase, length: float, seed: int) -> list[tuple[float, str, bool]]:
    """(time, provider, down?) switches: bursts of 0.5-2 s, `outage_share` of the time."""
    rand = random.Random(f"{seed}-{phase.key}-outages")
    switches: list[tuple[float, str, bool]] = []
    for provider in phase.outages:
        t = rand.uniform(0.0, 2.0)
        while t < length:
            burst = rand.uniform(0.5, 2.0)
            switches += [(t, provider, True), (min(t + burst, length), provider, False)]
            gap = burst * (1 - phase.outage_share) / phase.outage_share
            t += burst + gap * rand.uniform(0.5, 1.5)
    return sorted(switches)


class Faults:
    """Applies a phase's faults through the sandbox's `/_sandbox/faults`."""

    def __init__(self, client: httpx.AsyncClient, sandbox: str) -> None:
        self.client = client
        self.url = f"{sandbox}/_sandbox/faults"

    async def add(self, **fault: object) -> None:
        (await self.client.post(self.url, json=fault)).raise_for_status()

    async def clear(self, provider: str | None = None) -> None:
        params = {"provider": provider} if provider else None
        (await self.client.delete(self.url, params=params)).raise_for_status()

    async def begin(self, phase: Phase) -> None:
        await self.clear()
        if phase.latency_ms:
            for provider in PROVIDERS:
                await self.add(provider=provider, latency_ms=phase.latency_ms)

    async def outages(self, phase: Phase, start: float, length: float, seed: int) -> None:
        """Switch the 503 bursts on and off on schedule, from `start` for `length` seconds."""
        for at, provider, down in outage_windows(phase, length, seed):
            await asyncio.sleep(max(start + at - time.monotonic(), 0.0))
            if down:
                await self.add(provider=provider, status=503)
            else:
                await self.clear(provider)
        for provider in phase.outages:
            await self.clear(provider)
