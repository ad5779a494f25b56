"""A Stripe-like webhook sender: signs each delivery, waits at most 10 s for the answer, and
redelivers any non-2xx or timeout later (a few times, with jitter, then gives up), as Stripe
does over days, compressed here to seconds."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import httpx

from sandbox.stripe.webhook import sign

SECRET = "whsec_local_dev_only"
TIMEOUT_S = 10.0
#: waits before the 1st, 2nd and 3rd redelivery (Stripe: minutes to days; here seconds)
REDELIVERY_DELAYS_S = (2.0, 6.0, 18.0)


@dataclass(frozen=True)
class Delivery:
    """One delivery Stripe makes of an event, `at` seconds after the phase starts.
    Several deliveries of one event (`event_id`) are duplicates."""

    at: float
    event_id: str
    email: str
    payload: bytes


@dataclass
class SendStats:
    acks: list[float] = field(default_factory=list)  # seconds per attempt (timeouts count 10 s)
    statuses: dict[str, int] = field(default_factory=dict)
    redeliveries: int = 0
    gave_up: int = 0
    attempts: int = 0

    def note(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


class StripeSender:
    def __init__(self, url: str, rand: random.Random) -> None:
        self.url = url
        self.rand = rand
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=100)
        self.client = httpx.AsyncClient(timeout=TIMEOUT_S + 5, limits=limits)
        self.stats = SendStats()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def attempt(self, payload: bytes) -> tuple[str, float]:
        headers = {
            "Stripe-Signature": sign(payload, SECRET, int(time.time())),
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        started = time.monotonic()
        try:
            async with asyncio.timeout(TIMEOUT_S):
                response = await self.client.post(self.url, content=payload, headers=headers)
            status = str(response.status_code)
        except TimeoutError:
            status = "timeout"
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        return status, time.monotonic() - started

    async def deliver(self, delivery: Delivery) -> None:
        """Every attempt of one delivery: the first, then up to three redeliveries."""
        for retry in range(len(REDELIVERY_DELAYS_S) + 1):
            status, took = await self.attempt(delivery.payload)
            self.stats.attempts += 1
            self.stats.acks.append(took)
            self.stats.note(status)
            if status.startswith("2"):
                return
            if retry == len(REDELIVERY_DELAYS_S):
                self.stats.gave_up += 1
                return
            self.stats.redeliveries += 1
            delay = REDELIVERY_DELAYS_S[retry]
            await asyncio.sleep(delay * self.rand.uniform(0.7, 1.3))

    async def run(self, deliveries: list[Delivery], start: float) -> None:
        """Send every delivery at its time (open loop), and wait for all, redeliveries too."""
        tasks = []
        for delivery in sorted(deliveries, key=lambda d: d.at):
            delay = start + delivery.at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.deliver(delivery)))
        await asyncio.gather(*tasks)


def last_send_at(deliveries: list[Delivery]) -> float:
    return max(d.at for d in deliveries)


def worst_case_tail() -> float:
    """About how long after its first attempt a delivery can still be redelivered (longer only
    when its attempts themselves are slow)."""
    return sum(REDELIVERY_DELAYS_S) * 1.3 + TIMEOUT_S
