"""The canary's two HTTP conversations with ingest: post a signed webhook as Stripe does, and
ask the status API (`GET /v1/customers/status`, an app token) until the customer is where the
canary wants it with every integration synced. Each answer becomes a step's verdict and a
line a person can act on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from libs.contracts import Lifecycle
from libs.runtime.settings import ENV_PREFIX

from .admin_api import safe_url
from .canary_events import Obj, encode, sign

#: the longest a 429's `Retry-After` is waited before asking again
MOST_RETRY_AFTER = 30.0


class StepFailed(Exception):
    """The step cannot succeed (a refusal, a failed integration): no point waiting longer."""


@dataclass(frozen=True)
class Wanted:
    """Where the customer should end: a lifecycle it must be in, and every integration synced."""

    what: str
    accepts: Callable[[Lifecycle], bool]


class Ingest:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.where = safe_url(base_url)
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport
        )
        self.sleep = sleep

    async def aclose(self) -> None:
        await self.client.aclose()

    async def deliver(self, event: Obj, secret: str) -> str:
        """POST the event, signed now; the answer's words, or `StepFailed`."""
        body = encode(event)
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": sign(body, secret, int(time.time())),
            "User-Agent": "Switchboard-Canary/1.0 (+Stripe/1.0 compatible)",
        }
        try:
            response = await self.client.post("/webhooks/stripe", content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise StepFailed(
                f"cannot reach ingest at {self.where} ({ENV_PREFIX}INGEST_URL): "
                f"{type(exc).__name__}"
            ) from None
        if response.status_code == 401:
            raise StepFailed(
                f"ingest refused the signature ({_code(response)}): is the first of "
                f"{ENV_PREFIX}STRIPE_WEBHOOK_SECRETS one ingest accepts?"
            )
        if response.status_code != 200:
            raise StepFailed(f"ingest answered {response.status_code} {_code(response)}")
        return f"{event['type']} accepted ({event['id']})"

    async def wait_until(
        self,
        email: str,
        token: str,
        wanted: Wanted,
        *,
        deadline: float,
        poll: float,
        run_started: datetime | None = None,
    ) -> str:
        """Ask until the customer is as `wanted`; what it is then, or `StepFailed`. A failure
        from before `run_started` is an earlier run's, still shown until this run's outcome
        replaces it."""
        last = "ingest does not know the customer yet"
        while True:
            answer = await self._status(email, token)
            if isinstance(answer, float):  # throttled: wait as told
                pause = min(answer, MOST_RETRY_AFTER)
            else:
                if answer is not None:
                    done, last = judge(answer, wanted, run_started)
                    if done:
                        return last
                pause = poll
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StepFailed(f"timed out waiting for {wanted.what}: {last}")
            await self.sleep(min(pause, remaining))

    async def lifecycle(self, email: str, token: str) -> Lifecycle | None:
        """Where the customer stands now (None: not known, or not answered now)."""
        answer = await self._status(email, token)
        if not isinstance(answer, dict):
            return None
        try:
            return Lifecycle(str(answer.get("lifecycle")))
        except ValueError:
            return None

    async def _status(self, email: str, token: str) -> dict[str, Any] | float | None:
        """The status body; None when not known (yet) or unreachable for now; a float: the
        seconds a 429 asked to wait."""
        try:
            response = await self.client.get(
                "/v1/customers/status",
                params={"email": email},
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
        except httpx.HTTPError:
            return None  # a blip: the deadline decides
        if response.status_code == 401:
            raise StepFailed(
                f"the status API refused the token: check {ENV_PREFIX}APP_TOKENS "
                "(the canary sends the first)"
            )
        if response.status_code == 429:
            return _retry_after(response)
        if response.status_code != 200:
            return None
        body = response.json()
        return body if isinstance(body, dict) else None


def judge(
    status: dict[str, Any], wanted: Wanted, run_started: datetime | None = None
) -> tuple[bool, str]:
    """Whether the status is what the canary waits for, and the status in a line."""
    lifecycle = str(status.get("lifecycle"))
    integrations: dict[str, dict[str, Any]] = status.get("integrations") or {}
    parts = [f"lifecycle {lifecycle}"]
    unsynced = []
    for name, view in sorted(integrations.items()):
        state = str(view.get("status"))
        if state == "failed" and _before(view.get("since"), run_started):
            unsynced.append(f"{name} pending, an earlier run's failure")
        elif state == "failed":
            raise StepFailed(
                f"{name} failed after {view.get('attempts') or 0} attempts "
                "(support has the step and its error: switchboard status EMAIL)"
            )
        if state != "synced":
            reason = f", {view['reason']}" if view.get("reason") else ""
            unsynced.append(f"{name} {state}{reason}")
    parts.append("; ".join(unsynced) if unsynced else f"{len(integrations)} integrations synced")
    try:
        in_place = wanted.accepts(Lifecycle(lifecycle))
    except ValueError:
        in_place = False
    return in_place and not unsynced and bool(integrations), ", ".join(parts)


def _before(since: Any, run_started: datetime | None) -> bool:
    """Whether a step's `since` (ISO 8601) is before the run started (unknown: it is not)."""
    if run_started is None or not isinstance(since, str):
        return False
    try:
        at = datetime.fromisoformat(since)
    except ValueError:
        return False
    return (at if at.tzinfo else at.replace(tzinfo=UTC)) < run_started


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers.get("Retry-After", "1")), 0.1)
    except ValueError:
        return 1.0


def _code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    return response.reason_phrase or "?"
