"""`GET /v1/customers/status`: what the mobile app shows ("did my payment go through?")."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, Field

from libs.contracts import Lifecycle
from libs.runtime.clock import now
from libs.runtime.http import ApiError

from .canonical import step_of
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


def status_router(
    settings: IngestSettings,
    customers: CustomerRepository,
    clock: Callable[[], datetime] = now,
) -> APIRouter:
    """`clock`: the time an estimate in `next_step` is told relative to."""
    router = APIRouter()
    tokens = [t.get_secret_value() for t in settings.app_tokens]
    enabled = settings.enabled_integrations

    @router.get(
        "/v1/customers/status",
        response_model=CustomerStatus,
        summary="A customer's lifecycle, each integration's status and the next step",
        responses={
            401: {"description": "missing or invalid app token"},
            404: {"description": "no customer with this email"},
        },
    )
    async def customer_status(
        email: Annotated[str, Query(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")],
        authorization: Annotated[str | None, Header()] = None,
    ) -> CustomerStatus:
        check_bearer(authorization, tokens)
        customer = await customers.find_by_email(email)
        if customer is None:
            raise ApiError(404, "customer_not_found", "no customer is known with this email")
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
            next_step=next_step(customer, steps, clock()),
        )

    return router
