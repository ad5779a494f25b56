"""`GET /v1/checkout-sessions/{checkout_session_id}/status`: what the app shows its own buyer,
with no secret in the app.

Stripe's Checkout success URL carries the session id (`{CHECKOUT_SESSION_ID}`), which only the
buyer's browser has: the id is the capability. Ingest records `checkout:<cs_…>` → customer when
it applies `checkout.session.completed` (`apply_stage.py`), with the time; the answer is the
same body as the email status (`CustomerStatus`), for `checkout_status_ttl_seconds` after that,
and then a 404 exactly like an unknown id's, so a success URL left in a browser's history or a
log stops telling anything. Unknown, expired and not-yet-recorded ids answer the same 404 (no
oracle); the app polls for a few seconds after the redirect, until the webhook is applied.
Every request, malformed ones included, is throttled per client IP: session ids are long and
random, and the throttle keeps anyone from trying many of them.

The email lookup (`status.py`) stays for server-to-server callers with an app token; that
token never ships in an app.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel

from libs.contracts.identity import CHECKOUT_SESSION_ID, checkout_key, is_checkout_session_id
from libs.runtime.clock import now
from libs.runtime.http import ApiError
from libs.runtime.throttle import Throttle, client_ip

from .customers import CustomerRepository
from .settings import IngestSettings
from .status import CustomerStatus, status_of

PATH = "/v1/checkout-sessions/{checkout_session_id}/status"


class ErrorBody(BaseModel):
    error: str
    message: str


def _not_found() -> ApiError:
    # the same answer for an unknown, an expired and a not yet recorded session
    return ApiError(
        404,
        "not_found",
        "no recent checkout is known with this session id",
        headers={"Cache-Control": "no-store"},
    )


_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {
        "model": ErrorBody,
        "description": "`not_found`: no checkout recorded with this id, or recorded longer ago "
        "than the answers last (the same answer for both); right after the redirect, until "
        "Stripe's webhook is applied, too: poll for a few seconds",
    },
    422: {"model": ErrorBody, "description": "`invalid_checkout_session_id`: not `cs_…`"},
    429: {
        "model": ErrorBody,
        "description": "`rate_limited`: too many requests from this address; `Retry-After` "
        "says when to try again",
    },
}


def checkout_status_router(
    settings: IngestSettings,
    customers: CustomerRepository,
    clock: Callable[[], datetime] = now,
    throttle: Throttle | None = None,
) -> APIRouter:
    """`clock`: the time answers expire and estimates are told against. `throttle`: per client
    IP (from settings unless given)."""
    router = APIRouter()
    enabled = settings.enabled_integrations
    ttl = timedelta(seconds=settings.checkout_status_ttl_seconds)
    per_ip = throttle or Throttle(
        settings.checkout_status_rate_limit, 60.0, name="checkout status requests"
    )

    @router.get(
        PATH,
        response_model=CustomerStatus,
        summary="The buyer's status, by the Checkout Session id of Stripe's success URL (no token)",
        description="For the app: the session id is what the buyer's browser got from Stripe's "
        "success URL, and needs no token. The same body as `GET /v1/customers/status`; answers "
        f"for `SWITCHBOARD_CHECKOUT_STATUS_TTL_SECONDS` (default "
        f"{IngestSettings.model_fields['checkout_status_ttl_seconds'].default} s) after the "
        "checkout was recorded, then 404 as for an unknown id.",
        responses=_ERRORS,
    )
    async def checkout_status(
        request: Request,
        response: Response,
        checkout_session_id: Annotated[
            str,
            # documented, checked below: a malformed id is throttled like any other request
            Path(json_schema_extra={"pattern": f"^{CHECKOUT_SESSION_ID.pattern}$"}),
        ],
    ) -> CustomerStatus:
        per_ip.check(client_ip(request))
        if not is_checkout_session_id(checkout_session_id):
            raise ApiError(
                422,
                "invalid_checkout_session_id",
                "a Checkout Session id is cs_ followed by up to 255 letters, digits or _",
            )
        at = clock()
        recorded = await customers.recorded(checkout_key(checkout_session_id))
        if recorded is None or recorded.at + ttl <= at:
            raise _not_found()
        customer = await customers.get(recorded.customer_id)
        if customer is None:
            raise _not_found()
        # the id is a capability: no cache (shared or the browser's) keeps the answer
        response.headers["Cache-Control"] = "no-store"
        return status_of(customer, enabled, at)

    return router
