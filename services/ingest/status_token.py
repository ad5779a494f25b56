"""`GET /v1/customers/me/status`: the app's status by a short-lived token that the app's own
backend signs for its signed-in user, so the app holds no shared secret.

The token is a JWT (RFC 7519) signed with HS256 under one of `SWITCHBOARD_STATUS_TOKEN_SECRETS`
(several while rolling), with `sub` the user's email and `exp` at most
`SWITCHBOARD_STATUS_TOKEN_MAX_TTL_SECONDS` ahead: any JWT library writes one, e.g. PyJWT's
`jwt.encode({"sub": email, "exp": now + 300}, secret, algorithm="HS256")`. Only HS256 is
accepted (never `none`), the signature is compared in constant time against every secret, and a
token that lives longer than the maximum is refused, so a leaked one is worth minutes. Written
here with the standard library (HMAC and base64url) rather than a JWT package: verifying one
fixed algorithm is a few lines, and the checks above are the whole of it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response

from libs.runtime.clock import now
from libs.runtime.http import ApiError
from libs.runtime.throttle import Throttle, client_ip

from .checkout_status import ErrorBody
from .customers import CustomerRepository
from .settings import IngestSettings
from .status import CustomerStatus, status_of

PATH = "/v1/customers/me/status"
#: longer than any token this route would accept; nothing longer is parsed
MAX_TOKEN_CHARS = 4096
_HEADER = {"alg": "HS256", "typ": "JWT"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, signing_input: str) -> bytes:
    return hmac.new(secret.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()


def issue_status_token(secret: str, email: str, exp: int, **claims: Any) -> str:
    """A status token for `email` that expires at `exp` (unix seconds): what the app's backend
    does (with any JWT library); here for the tests and the docs."""
    head = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = _b64(json.dumps({"sub": email, "exp": exp, **claims}, separators=(",", ":")).encode())
    return f"{head}.{body}.{_b64(_sign(secret, f'{head}.{body}'))}"


class InvalidToken(ValueError):
    pass


def _json_object(part: str) -> dict[str, Any]:
    try:
        value = json.loads(_unb64(part))
    except (binascii.Error, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError too
        raise InvalidToken("the token is not a JWT") from exc
    if not isinstance(value, dict):
        raise InvalidToken("the token is not a JWT")
    return value


def verify_status_token(token: str, secrets: list[str], at: datetime, max_ttl: int) -> str:
    """The email the token was issued for; `InvalidToken` if it is not one of ours, not HS256,
    expired, or lives longer than `max_ttl` seconds."""
    parts = token.split(".")
    if len(token) > MAX_TOKEN_CHARS or len(parts) != 3 or not token.isascii():
        raise InvalidToken("the token is not a JWT")
    head, body, signature = parts
    if _json_object(head).get("alg") != "HS256":
        raise InvalidToken("the token must be signed with HS256")
    try:
        given = _unb64(signature)
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("the token is not a JWT") from exc
    valid = False
    for secret in secrets:  # every one, so the time taken does not say which nearly matched
        valid |= hmac.compare_digest(given, _sign(secret, f"{head}.{body}"))
    if not valid:
        raise InvalidToken("the token's signature is not valid")
    claims = _json_object(body)
    sub, exp = claims.get("sub"), claims.get("exp")
    if not isinstance(sub, str) or "@" not in sub or len(sub) > 320:
        raise InvalidToken("the token's sub is not an email")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise InvalidToken("the token has no exp")
    left = exp - at.timestamp()
    if left <= 0:
        raise InvalidToken("the token has expired")
    if left > max_ttl:
        raise InvalidToken(f"the token lives longer than {max_ttl} s; issue short-lived ones")
    return sub


def status_token_router(
    settings: IngestSettings,
    customers: CustomerRepository,
    clock: Callable[[], datetime] = now,
    throttle: Throttle | None = None,
) -> APIRouter:
    router = APIRouter()
    secrets = [s.get_secret_value() for s in settings.status_token_secrets]
    max_ttl, enabled = settings.status_token_max_ttl_seconds, settings.enabled_integrations
    per_ip = throttle or Throttle(
        settings.checkout_status_rate_limit, 60.0, name="status token requests"
    )

    @router.get(
        PATH,
        response_model=CustomerStatus,
        summary="The signed-in buyer's status, by a short-lived token from the app's backend",
        description="`Authorization: Bearer <JWT>`: HS256 under one of "
        "`SWITCHBOARD_STATUS_TOKEN_SECRETS`, `sub` the buyer's email, `exp` at most "
        "`SWITCHBOARD_STATUS_TOKEN_MAX_TTL_SECONDS` ahead. The same body as "
        "`GET /v1/customers/status`.",
        responses={
            401: {"model": ErrorBody, "description": "`unauthorized`: no valid status token"},
            404: {"model": ErrorBody, "description": "`not_found`: no customer with this email"},
            429: {"model": ErrorBody, "description": "`rate_limited`; see `Retry-After`"},
        },
    )
    async def my_status(
        request: Request,
        response: Response,
        authorization: Annotated[str | None, Header()] = None,
    ) -> CustomerStatus:
        per_ip.check(client_ip(request))
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "a bearer status token is required")
        if not secrets:
            raise ApiError(401, "unauthorized", "status tokens are not enabled on this ingest")
        at = clock()
        try:
            email = verify_status_token(token.strip(), secrets, at, max_ttl)
        except InvalidToken as exc:
            raise ApiError(401, "unauthorized", str(exc)) from None
        customer = await customers.find_by_email(email)
        if customer is None:
            raise ApiError(404, "not_found", "no customer is known with this email")
        response.headers["Cache-Control"] = "no-store"
        return status_of(customer, enabled, at)

    return router
