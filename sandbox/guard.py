"""What every provider stand-in does before its own logic: check the credential, apply the rate
limit, and count the request. Each provider describes its own answers in a `ProviderSpec`.

Counting happens here, after auth and the rate limit, so `requests` only holds writes that reached
the provider's logic; refused ones go to `rejected` and injected failures to `faulted` (see
`faults.py`). A test can then tell one grant from two, and still see every retry. `reads` holds
every read the provider answered, refused or not, as a quota counts them (see `state.RequestLog`).

Before all of that, `CrossSiteGuard` refuses a write that a web page sent: the sandbox listens on
the developer's machine, and a page they visit must not be able to drive it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.http import ReplyNow
from sandbox.records import Missing
from sandbox.settings import SandboxSettings

if TYPE_CHECKING:
    from sandbox.state import Sandbox

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class ProviderSpec:
    """How one provider answers outside its business logic."""

    name: str
    # Returns the rate-limit key (the credential, or the client IP for Circle), or None if refused.
    authenticate: Callable[[Request, SandboxSettings], str | None]
    unauthorized: Callable[[Request], Response]
    # Gets the Retry-After value to send, or None to send no header (Circle, Kit, HubSpot).
    too_many_requests: Callable[[int | None], Response]
    # The provider's error body for any other injected status (503, 500, 400, ...).
    error: Callable[[int], Response]
    # Zendesk documents Retry-After on every 429; the others send none.
    sends_retry_after: bool = False
    # Calls sent as POST that only read (HubSpot's CRM search), by "METHOD /path/template":
    # counted under `reads`, as the provider's quota counts them, never under `requests`.
    read_only: frozenset[str] = frozenset()

    @property
    def prefix(self) -> str:
        return f"/{self.name}"

    def writes(self, key: str) -> bool:
        """Whether the call named `key` ("METHOD /path/template") changes the provider's state."""
        method = key.partition(" ")[0]
        return method in MUTATING_METHODS and key not in self.read_only


def bearer_token(request: Request, *schemes: str) -> str | None:
    """The credential after one of `schemes` in the Authorization header (case-insensitive)."""
    scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() in {s.lower() for s in schemes} and value.strip():
        return value.strip()
    return None


@contextmanager
def missing_as(answer: Callable[[str], Response]) -> Iterator[None]:
    """Answer a store's `Missing` with the provider's not-found reply for what is missing."""
    try:
        yield
    except Missing as exc:
        raise ReplyNow(answer(exc.what)) from exc


def sandbox_of(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def provider_template(scope: Scope, prefix: str) -> str:
    """The matched route's path template without the provider prefix, e.g. `/v4/tags/{tag_id}`."""
    route = scope.get("route")
    path: str = getattr(route, "path", None) or scope.get("path", "")
    return _relative(path, prefix)


def match_template(routes: Sequence[BaseRoute], scope: Scope, prefix: str) -> str:
    """Route matching before the router runs (used by the fault middleware)."""
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return provider_template({"route": route, "path": scope["path"]}, prefix)
    return _relative(scope["path"], prefix)


def _relative(path: str, prefix: str) -> str:
    # Zendesk's optional `.json` suffix names the same endpoint, so it is counted as one.
    path = path.removesuffix(".json")
    return path[len(prefix) :] if path.startswith(prefix) else path


def guard(spec: ProviderSpec) -> Any:
    """A router dependency: authenticate, rate-limit, then count the request."""

    async def check(request: Request) -> None:
        sandbox = sandbox_of(request)
        log = sandbox.logs[spec.name]
        key = f"{request.method} {provider_template(request.scope, spec.prefix)}"
        write = spec.writes(key)
        credential = spec.authenticate(request, sandbox.settings)
        if credential is None:
            log.refuse(key, write=write)
            raise ReplyNow(spec.unauthorized(request))
        wait = sandbox.limiters[spec.name].hit(credential)
        if wait is not None:
            log.refuse(key, write=write)
            retry_after = max(1, math.ceil(wait)) if spec.sends_retry_after else None
            raise ReplyNow(spec.too_many_requests(retry_after))
        # Counted once the whole request has arrived: one whose client died before its body
        # was sent never reaches the provider's logic (and must not look like a second write).
        # Starlette keeps the body, so the route reads the same bytes.
        await request.body()
        log.record(key, write=write)

    return Depends(check)


# Sec-Fetch-Site values a browser sends for a request the sandbox's own page (or no page) made.
_OWN_FETCH_SITES = frozenset({"same-origin", "none"})


def own_origins(settings: SandboxSettings) -> frozenset[str]:
    """The origins of the sandbox itself: its configured address and the loopback names of its
    port. A page served anywhere else (another port counts) is another origin."""
    port = settings.sandbox_port
    hosts = {settings.sandbox_host, "127.0.0.1", "localhost", "[::1]"}
    return frozenset(f"http://{host}:{port}".lower() for host in hosts)


def cross_site_refusal(method: str, headers: Headers, origins: frozenset[str]) -> str | None:
    """Why a request must be refused as a cross-site write, or None to let it through.

    Only writes are checked (POST, PUT, PATCH, DELETE). A browser sends `Origin` with every
    write it makes from a page, and `Sec-Fetch-Site` with every request; clients that are not
    browsers (the services, tests, curl) send neither, and pass.
    """
    if method.upper() not in MUTATING_METHODS:
        return None
    origin = headers.get("origin")
    if origin is not None:
        if origin.strip().rstrip("/").lower() in origins:
            return None
        return f"Origin {origin!r} is not the sandbox's own"
    site = headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in _OWN_FETCH_SITES:
        return f"Sec-Fetch-Site is {site!r}"
    return None


class CrossSiteGuard:
    """ASGI middleware: a 403 JSON answer to a cross-site write, on every route (the control
    API, the Stripe trigger and each provider stand-in), before any of them runs or counts."""

    def __init__(self, app: ASGIApp, settings: SandboxSettings) -> None:
        self.app = app
        self.origins = own_origins(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            reason = cross_site_refusal(scope["method"], Headers(scope=scope), self.origins)
            if reason is not None:
                body = {
                    "error": "cross_site_request",
                    "message": f"{reason}: the sandbox accepts writes only from its own origin "
                    "or from clients that are not browsers",
                }
                await JSONResponse(body, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
