"""Outbound provider calls: one place that paces them (the worker's `ProviderBudget`), times them,
counts them (by kind and outcome, and against the month's quota), and translates every httpx
outcome into the error tree (`errors.py`). Worker clients call `request` and never see httpx
exceptions; a unit test checks the mapping."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from .errors import TransientProviderError, error_for_status
from .pacing import Pacer
from .worker_metrics import WorkerMetrics


def provider_client(
    base_url: str,
    auth_headers: Mapping[str, str],
    timeout: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An httpx client for a provider's JSON API at `base_url`, sending `auth_headers` on every
    call. `transport` lets tests run it against the sandbox app in-process."""
    return httpx.AsyncClient(
        transport=transport,
        base_url=base_url.rstrip("/"),
        headers={**auth_headers, "Accept": "application/json"},
        timeout=timeout,
    )


def bearer_client(
    base_url: str,
    token: str,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """`provider_client` for a provider that takes a bearer token (Circle, HubSpot)."""
    return provider_client(base_url, {"Authorization": f"Bearer {token}"}, timeout, transport)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(when - (now if now is not None else time.time()), 0.0)


def error_message(response: httpx.Response) -> str:
    """A short, secret-free description of a provider error body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("message", "error", "description", "errors"):
            if body.get(key):
                value = body[key]
                return str(value[0] if isinstance(value, list) and value else value)[:300]
    return str(body)[:300]


def call_outcome(status: int, ok: Collection[int] = ()) -> str:
    """A call's outcome for `switchboard_provider_requests_total`: `ok` when the caller expected
    the status (a 404 that means "not there" included), else by the status class, as
    `errors.error_for_status` treats it (429: rate_limited; 5xx: server_error)."""
    if status in ok or 200 <= status < 300:
        return "ok"
    if status == 429:
        return "rate_limited"
    return "server_error" if status >= 500 else "client_error"


class ProviderHttp:
    def __init__(
        self,
        integration: str,
        client: httpx.AsyncClient,
        metrics: WorkerMetrics | None,
        *,
        pacer: Pacer | None = None,
    ) -> None:
        # the integration's one name (`circle`, `convertkit`, `crm`), as in every other metric
        # and error, so a dashboard can put a worker's syncs beside its provider calls
        self.provider = integration
        self.client = client
        self.metrics = metrics
        #: a pacer of its own (support's Zendesk); a worker's calls use its budget's pacer
        self.pacer = pacer

    async def request(
        self,
        method: str,
        template: str,
        *,
        ok: Collection[int] = (200, 201, 202, 204),
        path: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Call `template` (e.g. `/api/admin/v2/access_groups/{id}/community_members`).
        Statuses in `ok` are returned; anything else raises a `ProviderError`."""
        url = template.format(**(path or {}))
        endpoint = f"{method} {template}"
        budget = self.metrics.budget if self.metrics is not None else None
        pacer = self.pacer or (budget.pacer if budget is not None else None)
        if pacer is not None:
            # wait for a turn before the clock starts: the latency is the provider's alone
            await pacer.acquire()
        started = time.perf_counter()
        status = "error"
        outcome = "connection"
        try:
            response = await self.client.request(method, url, **kwargs)
            status = str(response.status_code)
            outcome = call_outcome(response.status_code, ok)
        except httpx.TransportError as exc:  # a timeout is one too: both may pass on a retry
            timeout = isinstance(exc, httpx.TimeoutException)
            what, outcome = (
                ("timed out", "timeout") if timeout else ("connection failed", "connection")
            )
            raise TransientProviderError(
                self.provider, f"{what} ({type(exc).__name__})", endpoint=endpoint, code=outcome
            ) from None
        finally:
            if self.metrics is not None:
                self.metrics.downstream.labels(self.provider, endpoint, status).observe(
                    time.perf_counter() - started
                )
                kind = "read" if method.upper() == "GET" else "write"
                self.metrics.provider_requests.labels(self.provider, kind, outcome).inc()
            if budget is not None:
                budget.spent(outcome)
        if response.status_code in ok:
            return response
        raise error_for_status(
            self.provider,
            response.status_code,
            error_message(response),
            endpoint=endpoint,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )
