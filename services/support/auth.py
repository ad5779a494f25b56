"""Admin tokens: the API takes them as a bearer token, the console from an HttpOnly cookie.

CSRF: the console cookie is `SameSite=Strict`, so a browser never sends it on a request started
by another site, and every console POST must also carry an `Origin` (or, failing that, a
`Referer`) equal to the console's own origin. The API takes no cookie at all.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from fastapi import Request

COOKIE = "switchboard_admin"


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
