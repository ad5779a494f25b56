"""`GET /v1/customers/status`: what the mobile app shows ("did my payment go through?").

Throttled per client IP and per presented token (its hash is the key, never the token), both
checked before the token is: a caller over either limit gets 429 with `Retry-After`, so the
lookup cannot be used to enumerate emails nor to guess tokens quickly. Rejected tokens are
counted in `switchboard_http_unauthorized_total{surface="status_api"}`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, Field

from libs.contracts import Lifecycle
from libs.runtime.clock import now
from libs.runtime.http import ApiError
from libs.runtime.throttle import Throttle, client_ip

from .canonical import CanonicalCustomer, step_of
from .customers import CustomerRepository
from .next_step import next_step
from .settings import IngestSettings


class IntegrationView(BaseModel):
    status: str  # pending / synced / failed / off / shadow
    reason: str | None = Field(
        default=None,
        description="Why a pending step is pending: `queued` (published, the worker has not "
        "reported yet), `retrying` (an attempt failed and will be tried again; `attempts` counts "
        "them) or `waiting` (the worker holds it behind others under the provider's rate limit; "
        "`expected_at` says until about when). `nothing_to_sync` when no change was ever "
        "published for the customer.",
    )
    #: since when the step is in this status (for `queued`: since the change was published)
    since: datetime | None = None
    attempts: int = 0
    updated_at: datetime | None = None
    expected_at: datetime | None = Field(
        default=None,
        description="For a step pending with reason `waiting`: when the worker expects to run "
        "it (an estimate, which a later report may move; it may already be past). Null "
        "otherwise.",
    )


class CustomerStatus(BaseModel):
    lifecycle: Lifecycle
    integrations: dict[str, IntegrationView]
    needs_support: bool
    next_step: str = Field(
        description="What to tell the customer, in plain words; for a paid customer whose access "
        "is queued behind the provider's rate limit, which access and about when, e.g. "
        '"Payment received — your community access is queued behind other new members; '
        'expected within about 3 minutes."'
    )


def status_of(customer: CanonicalCustomer, enabled: list[str], at: datetime) -> CustomerStatus:
    """The status body for `customer` (every status route answers it), estimates told
    relative to `at`."""
    steps = {name: step_of(customer, name) for name in enabled}
    return CustomerStatus(
        lifecycle=customer.lifecycle,
        integrations={
            name: IntegrationView(
                status=step.status,
                reason=step.reason,
                since=step.since,
                attempts=step.attempts,
                updated_at=known.at if (known := customer.integrations.get(name)) else None,
                expected_at=step.expected_at,
            )
            for name, step in steps.items()
        },
        needs_support=customer.needs_support,
        next_step=next_step(customer, steps, at),
    )


def check_bearer(authorization: str | None, tokens: list[str]) -> None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthorized", "a bearer token is required")
    # Compare against every token so the time taken does not reveal which one nearly matched.
    valid = False
    for candidate in tokens:
        valid |= hmac.compare_digest(token.encode(), candidate.encode())
    if not valid:
        raise ApiError(401, "unauthorized", "the token is not valid")


#: the surface label of this API in `switchboard_http_unauthorized_total`
SURFACE = "status_api"


def unauthorized_counter(registry: CollectorRegistry) -> Counter:
    counter = Counter(
        "switchboard_http_unauthorized_total",
        "Requests answered 401 (missing or wrong token), by surface.",
        ["surface"],
        registry=registry,
    )
    counter.labels(SURFACE)  # at 0 from the start, so the first 401 is an increase
    return counter


def token_key(authorization: str | None) -> str | None:
    """The throttle key of a presented bearer token: a hash, so no token is kept in memory
    longer than the request."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return hashlib.sha256(token.encode()).hexdigest()[:32]


class StatusThrottle:
    """The status API's two throttles: per client IP, then per presented token."""

    def __init__(
        self, settings: IngestSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        window = settings.status_rate_window_seconds
        self.per_ip = Throttle(settings.status_rate_limit_per_ip, window, clock=clock)
        self.per_token = Throttle(
            settings.status_rate_limit_per_token,
            window,
            name="requests for this token",
            clock=clock,
        )

    def check(self, ip: str, authorization: str | None) -> None:
        self.per_ip.check(ip)
        key = token_key(authorization)
        if key is not None:
            self.per_token.check(key)


def status_router(
    settings: IngestSettings,
    customers: CustomerRepository,
    clock: Callable[[], datetime] = now,
    *,
    registry: CollectorRegistry | None = None,
    throttle: StatusThrottle | None = None,
) -> APIRouter:
    """`clock`: the time an estimate in `next_step` is told relative to. `registry`: where the
    401 counter goes (none: the app's `state.registry`, from the first request on).
    `throttle`: tests pass one with a fake clock."""
    router = APIRouter()
    tokens = [t.get_secret_value() for t in settings.app_tokens]
    enabled = settings.enabled_integrations
    limits = throttle or StatusThrottle(settings)
    unauthorized = unauthorized_counter(registry) if registry is not None else None

    def count_unauthorized(request: Request) -> None:
        nonlocal unauthorized
        if unauthorized is None:
            app_registry = getattr(request.app.state, "registry", None)
            if not isinstance(app_registry, CollectorRegistry):
                return
            unauthorized = unauthorized_counter(app_registry)
        unauthorized.labels(SURFACE).inc()

    @router.get(
        "/v1/customers/status",
        response_model=CustomerStatus,
        summary="A customer's lifecycle, each integration's status and the next step",
        responses={
            401: {"description": "missing or invalid app token"},
            404: {"description": "no customer with this email"},
            429: {"description": "too many requests from this address or for this token"},
        },
    )
    async def customer_status(
        request: Request,
        email: Annotated[str, Query(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")],
        authorization: Annotated[str | None, Header()] = None,
    ) -> CustomerStatus:
        limits.check(client_ip(request), authorization)
        try:
            check_bearer(authorization, tokens)
        except ApiError:
            count_unauthorized(request)
            raise
        customer = await customers.find_by_email(email)
        if customer is None:
            raise ApiError(404, "customer_not_found", "no customer is known with this email")
        return status_of(customer, enabled, clock())

    return router
