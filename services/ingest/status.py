"""`GET /v1/customers/status`: what the mobile app shows ("did my payment go through?")."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel

from libs.contracts import Lifecycle
from libs.runtime.http import ApiError

from .canonical import next_step, step_of
from .customers import CustomerRepository
from .settings import IngestSettings


class IntegrationView(BaseModel):
    status: str  # pending / synced / failed / off / shadow
    #: why a step is pending: `queued` (waiting for the worker) or `retrying` (an attempt
    #: failed and will be tried again); `nothing_to_sync` when no change was ever published
    reason: str | None = None
    #: since when the step is in this status (for `queued`: since the change was published)
    since: datetime | None = None
    attempts: int = 0
    updated_at: datetime | None = None


class CustomerStatus(BaseModel):
    lifecycle: Lifecycle
    integrations: dict[str, IntegrationView]
    needs_support: bool
    next_step: str


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


def status_router(settings: IngestSettings, customers: CustomerRepository) -> APIRouter:
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
                )
                for name, step in steps.items()
            },
            needs_support=customer.needs_support,
            next_step=next_step(customer, {name: step.status for name, step in steps.items()}),
        )

    return router
