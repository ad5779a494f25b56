"""Admin tokens: the API takes them as a bearer token, the console from an HttpOnly cookie.

CSRF: the console cookie is `SameSite=Strict`, so a browser never sends it on a request started
by another site, and every console POST must also carry an `Origin` (or, failing that, a
`Referer`) equal to the console's own origin. The API takes no cookie at all.

Throttles (`AccessGuard`): the admin API per client IP and per bearer token; the login form per
client IP and per attempted token; and a backoff per IP after failed logins (a wrong token in
the form or in the cookie), each further failure locking the address out twice as long. All
answer 429 with `Retry-After`, and are checked before the token is. Tokens are keyed by hash.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter

from libs.runtime.http import ApiError, error_response
from libs.runtime.throttle import MAX_KEYS, Throttle, client_ip

from .settings import SupportSettings

COOKIE = "switchboard_admin"
#: the `surface` labels of `switchboard_http_unauthorized_total` in support
SURFACES = ("admin_api", "console_login")


class AdminTokens:
    def __init__(self, tokens: list[str]) -> None:
        self._tokens = [t.encode() for t in tokens if t]

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        # Compared with every token, so the time taken does not tell which one nearly matched.
        ok = False
        for candidate in self._tokens:
            ok |= hmac.compare_digest(token.encode(), candidate)
        return ok

    def bearer(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def same_origin(request: Request) -> bool:
    """True if the request says it came from a page of this console. Hosts are compared (not
    schemes), since TLS usually ends at a proxy in front of the service."""
    own = request.headers.get("host", "").lower()
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return bool(own) and urlsplit(origin).netloc.lower() == own
    referer = request.headers.get("referer")
    if referer:
        return bool(own) and urlsplit(referer).netloc.lower() == own
    return False


def token_key(token: str) -> str:
    """A token's throttle key: a hash, so no presented token is kept in memory."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def unauthorized_counter(registry: CollectorRegistry) -> Counter:
    counter = Counter(
        "switchboard_http_unauthorized_total",
        "Requests answered 401 (missing or wrong token), by surface.",
        ["surface"],
        registry=registry,
    )
    for surface in SURFACES:
        counter.labels(surface)  # at 0 from the start, so the first 401 is an increase
    return counter


def too_many(wait: float, what: str) -> ApiError:
    seconds = max(1, math.ceil(wait))
    return ApiError(
        429,
        "rate_limited",
        f"too many {what}; try again in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


@dataclass
class _Failures:
    count: int
    locked_until: float
    last: float


class LoginBackoff:
    """Failed logins per address: the first `free` cost nothing more; the failure that reaches
    `free` locks the address out for 1 s, each later one twice as long as the last, up to
    `most`. A success forgets the address; so does a day without failures."""

    FORGET_AFTER = 24 * 3600.0

    def __init__(self, free: int, most: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.free, self.most, self._clock = free, most, clock
        self._seen: OrderedDict[str, _Failures] = OrderedDict()

    def check(self, ip: str) -> None:
        """Raise 429 while `ip` is locked out."""
        seen = self._seen.get(ip)
        if seen is not None:
            wait = seen.locked_until - self._clock()
            if wait > 0:
                raise too_many(wait, "failed logins from this address")

    def failed(self, ip: str) -> float:
        """Count a failure; the lockout it starts, in seconds (0: none yet)."""
        now = self._clock()
        seen = self._seen.pop(ip, None)
        if seen is None or now - seen.last > self.FORGET_AFTER:
            seen = _Failures(0, now, now)
        seen.count += 1
        seen.last = now
        lockout = 0.0
        if seen.count >= self.free:
            lockout = min(2.0 ** (seen.count - self.free), self.most)
            seen.locked_until = now + lockout
        self._seen[ip] = seen
        while len(self._seen) > MAX_KEYS:
            self._seen.popitem(last=False)
        return lockout

    def succeeded(self, ip: str) -> None:
        self._seen.pop(ip, None)


class AccessGuard:
    """The throttles of the admin API and the console's login, and the 401 count."""

    def __init__(
        self,
        settings: SupportSettings,
        unauthorized: Counter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        s = settings
        self.api_ip = Throttle(s.admin_rate_limit_per_ip, s.admin_rate_window_seconds, clock=clock)
        self.api_token = Throttle(
            s.admin_rate_limit_per_token,
            s.admin_rate_window_seconds,
            name="requests for this token",
            clock=clock,
        )
        self.login_ip = Throttle(
            s.login_rate_limit_per_ip, s.login_rate_window_seconds, name="logins", clock=clock
        )
        self.login_token = Throttle(
            s.login_rate_limit_per_token,
            s.login_rate_window_seconds,
            name="logins with this token",
            clock=clock,
        )
        self.backoff = LoginBackoff(
            s.login_backoff_after_failures, s.login_backoff_max_seconds, clock
        )
        self._unauthorized = unauthorized

    def count_unauthorized(self, surface: str) -> None:
        if self._unauthorized is not None:
            self._unauthorized.labels(surface).inc()

    def admin_api(self, request: Request, tokens: AdminTokens) -> JSONResponse | None:
        """None when an `/api` request may go on; else the 429 or 401 to answer."""
        token = tokens.bearer(request)
        try:
            self.api_ip.check(client_ip(request))
            if token is not None:
                self.api_token.check(token_key(token))
        except ApiError as exc:
            response = error_response(exc.status, exc.code, exc.message)
            response.headers.update(exc.headers)
            return response
        if not tokens.valid(token):
            self.count_unauthorized("admin_api")
            return error_response(401, "unauthorized", "a valid admin bearer token is required")
        return None

    def check_login(self, ip: str, token: str) -> None:
        """Before a login's token is checked: the lockout, then the throttles (429)."""
        self.backoff.check(ip)
        self.login_ip.check(ip)
        if token:
            self.login_token.check(token_key(token))

    def login_failed(self, ip: str) -> None:
        self.count_unauthorized("console_login")
        self.backoff.failed(ip)

    def login_succeeded(self, ip: str) -> None:
        self.backoff.succeeded(ip)
