"""Injected failures for the provider stand-ins: an error status, a 429, added latency, or a
dropped connection, for the next N matching requests (or until cleared).

Faults run in an ASGI middleware in front of routing, auth and rate limits, as a real outage
would: a 503 does not care whether the token was right. Control routes (`/_sandbox`) are never
faulted. Faults queue per provider: the first active one that matches a request applies.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.guard import ProviderSpec, match_template

if TYPE_CHECKING:
    from sandbox.state import Sandbox

Provider = Literal["circle", "kit", "hubspot", "zendesk", "stripe"]


class FaultRequest(BaseModel):
    """The body of `POST /_sandbox/faults`."""

    model_config = ConfigDict(extra="forbid")

    provider: Provider
    status: int | None = Field(default=None, ge=400, le=599)
    latency_ms: int | None = Field(default=None, ge=0, le=600_000)
    drop: bool = False
    # None or missing: the fault stays until `DELETE /_sandbox/faults`.
    count: int | None = Field(default=None, ge=1)
    retry_after: int | None = Field(default=None, ge=0)
    # Optional filters: a glob over the provider-relative path or its template, and a method.
    path: str | None = None
    method: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> FaultRequest:
        if self.status is None and self.latency_ms is None and not self.drop:
            raise ValueError("a fault needs at least one of status, latency_ms or drop")
        if self.status is not None and self.drop:
            raise ValueError("status and drop exclude each other: a dropped request has no status")
        if self.retry_after is not None and self.status is None:
            raise ValueError("retry_after only applies to a fault with a status")
        return self


@dataclass
class ActiveFault:
    id: int
    spec: FaultRequest
    remaining: int | None
    applied: int = 0

    def matches(self, method: str, path: str, template: str) -> bool:
        if self.spec.method and self.spec.method.upper() != method:
            return False
        if self.spec.path:
            pattern = self.spec.path
            return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(template, pattern)
        return True

    def as_json(self) -> dict[str, Any]:
        fields = self.spec.model_dump(exclude_none=True)
        return {"id": self.id, **fields, "remaining": self.remaining, "applied": self.applied}


class FaultBook:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.active: list[ActiveFault] = []

    def add(self, spec: FaultRequest) -> ActiveFault:
        fault = ActiveFault(next(self._ids), spec, spec.count)
        self.active.append(fault)
        return fault

    def take(self, provider: str, method: str, path: str, template: str) -> ActiveFault | None:
        """The fault for this request, if any, using up one of its count."""
        for fault in self.active:
            if fault.spec.provider == provider and fault.matches(method, path, template):
                fault.applied += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.active.remove(fault)
                return fault
        return None

    def clear(self, provider: str | None = None) -> int:
        kept = [f for f in self.active if provider is not None and f.spec.provider != provider]
        cleared = len(self.active) - len(kept)
        self.active = kept
        return cleared


class FaultMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        sandbox: Sandbox,
        specs: Mapping[str, ProviderSpec],
        routes: Sequence[BaseRoute],
    ) -> None:
        self.app = app
        self.sandbox = sandbox
        self.specs = specs
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        spec = self._provider(scope)
        if spec is None:
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        template = match_template(self.routes, scope, spec.prefix)
        relative = scope["path"][len(spec.prefix) :]
        fault = self.sandbox.faults.take(spec.name, method, relative, template)
        if fault is None:
            await self.app(scope, receive, send)
            return
        key = f"{method} {template}"
        write = spec.writes(key)
        if fault.spec.latency_ms:
            await asyncio.sleep(fault.spec.latency_ms / 1000)
        log = self.sandbox.logs[spec.name]
        if fault.spec.drop:
            log.fault(key, write=write, answered=False)
            await drop_connection(scope, receive)
        elif fault.spec.status is not None:
            log.fault(key, write=write, answered=True)
            await _fault_response(spec, fault.spec)(scope, receive, send)
        else:
            log.delayed[key] += 1
            await self.app(scope, receive, send)

    def _provider(self, scope: Scope) -> ProviderSpec | None:
        if scope["type"] != "http":
            return None
        first = scope["path"].lstrip("/").split("/", 1)[0]
        return self.specs.get(first)


def _fault_response(spec: ProviderSpec, fault: FaultRequest) -> Any:
    retry_after = fault.retry_after
    if fault.status == 429:
        if retry_after is None and spec.sends_retry_after:
            retry_after = 1  # Zendesk never answers 429 without Retry-After
        return spec.too_many_requests(retry_after)
    response = spec.error(fault.status or 500)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def drop_connection(scope: Scope, receive: Receive) -> None:
    """End the request without any response, as a crashed server or a cut network would.

    Under uvicorn, `receive` is bound to the request cycle that owns the socket: aborting that
    transport resets the connection, so the client sees a protocol or read error, never a status.
    Elsewhere (httpx's in-process ASGITransport) there is no socket, so raise the very error an
    httpx client gets when a server disconnects, which that transport passes to the caller.
    """
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
    transport.abort()
    # Wait for uvicorn to notice the disconnect, so it does not try to send a 500 of its own.
    try:
        async with asyncio.timeout(1.0):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        pass
