"""Deliver webhooks the way Stripe does: signed at send time, and anything that is not a 2xx
within 10 s (or no answer at all) is delivered again later, with a growing delay, until it is
accepted. Counts what came back, so a run shows how ingest answered under faults."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.stripe.webhook import encode, sign

SECRET = "whsec_local_dev_only"


@dataclass
class ErrorAnswers:
    """Non-2xx answers with one status: how many, whether their bodies were JSON with an
    `error` code, and a few bodies to look at."""

    count: int = 0
    json_bodies: int = 0
    other_bodies: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)

    def add(self, response: httpx.Response) -> None:
        self.count += 1
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            self.json_bodies += 1
            self.codes[body["error"]] += 1
        else:
            self.other_bodies += 1
        if len(self.samples) < 3:
            content = response.headers.get("content-type", "?")
            text = response.text[:160].replace("\n", " ")
            sample = f"{content}: {text}"
            if sample not in self.samples:
                self.samples.append(sample)

    def as_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "json_error_bodies": self.json_bodies,
            "other_bodies": self.other_bodies,
            "error_codes": dict(self.codes),
            "samples": self.samples,
        }


@dataclass
class Backoff:
    first: float = 1.0
    most: float = 30.0

    def delay(self, failures: int) -> float:
        return float(min(self.first * 2 ** max(failures - 1, 0), self.most))


class StripeSender:
    """Sends each payload until ingest accepts it. `deliver` returns at once; `wait_accepted`
    waits for every delivery (first ones and redeliveries)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        timeout: float = 10.0,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.url = url
        self.timeout = timeout
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.sent = 0  # first attempts
        self.attempts = 0
        self.redeliveries = 0
        self.redelivering = 0  # deliveries waiting for their next attempt now
        self.in_flight = 0
        self.accepted_events: dict[str, float] = {}  # event id -> when first accepted
        self.duplicate_answers = 0  # 200s whose body said "duplicate"
        self.errors: dict[int, ErrorAnswers] = {}
        self.no_answer: Counter[str] = Counter()  # exception type -> count
        self.attempts_per_delivery: Counter[int] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False

    def deliver(self, event_id: str, payload: dict[str, Any]) -> None:
        self.sent += 1
        task = asyncio.create_task(self._until_accepted(event_id, encode(payload)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _until_accepted(self, event_id: str, body: bytes) -> None:
        failures = 0
        while not self._stopped:
            self.attempts += 1
            if await self._attempt(event_id, body):
                self.attempts_per_delivery[failures + 1] += 1
                return
            failures += 1
            self.redeliveries += 1
            self.redelivering += 1
            try:
                await asyncio.sleep(self.backoff.delay(failures))
            finally:
                self.redelivering -= 1

    async def _attempt(self, event_id: str, body: bytes) -> bool:
        headers = {
            "Stripe-Signature": sign(body, SECRET, int(time.time())),
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        self.in_flight += 1
        try:
            async with asyncio.timeout(self.timeout):  # the whole answer, as Stripe counts it
                response = await self.client.post(self.url, content=body, headers=headers)
        except TimeoutError:
            self.no_answer["timeout"] += 1
            return False
        except httpx.HTTPError as exc:
            self.no_answer[type(exc).__name__] += 1
            return False
        finally:
            self.in_flight -= 1
        if 200 <= response.status_code < 300:
            self.accepted_events.setdefault(event_id, self.clock())
            try:
                if json.loads(response.content).get("duplicate") is True:
                    self.duplicate_answers += 1
            except (ValueError, AttributeError):
                pass
            return True
        self.errors.setdefault(response.status_code, ErrorAnswers()).add(response)
        return False

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def wait_accepted(self, within: float) -> bool:
        """Wait until every delivery was accepted; False if some still were not after `within` s
        (those are then abandoned and reported)."""
        if self._tasks:
            _, waiting = await asyncio.wait(set(self._tasks), timeout=within)
            if waiting:
                self._stopped = True
                for task in waiting:
                    task.cancel()
                await asyncio.gather(*waiting, return_exceptions=True)
                return False
        return True

    def summary(self) -> dict[str, Any]:
        return {
            "deliveries": self.sent,
            "attempts": self.attempts,
            "redeliveries": self.redeliveries,
            "events_accepted": len(self.accepted_events),
            "duplicate_answers": self.duplicate_answers,
            "non_2xx": {str(k): v.as_json() for k, v in sorted(self.errors.items())},
            "no_answer": dict(self.no_answer),
            "attempts_per_delivery": {
                str(k): v for k, v in sorted(self.attempts_per_delivery.items())
            },
        }
