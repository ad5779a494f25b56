"""The admin API under `/api` (bearer admin token on every route; see `main.py` for the check,
which runs before anything else looks at the request)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.reconcile.records import SweepRecord
from libs.runtime.http import ApiError
from services.ingest.read_model import CustomerReadModel

from . import customer_page, reconcile_page, views
from .ports import REPLAYABLE, step_id
from .service import Support

StepStatus = Literal["failed", "replayed", "synced", "superseded"]


class ErrorBody(BaseModel):
    error: str
    message: str


class CustomerSummary(BaseModel):
    customer_id: str
    email: str | None
    name: str | None = None
    lifecycle: str | None
    needs_support: bool
    stripe_customer_id: str | None = None


class SearchResult(BaseModel):
    customers: list[CustomerSummary]


class FailureList(BaseModel):
    count: int
    failures: list[dict[str, Any]]


class TicketList(BaseModel):
    count: int
    tickets: list[dict[str, Any]]


class LastSweeps(BaseModel):
    #: each integration's last finished sweep; null: never swept
    integrations: dict[str, SweepRecord | None]


class CustomerPage(BaseModel):
    customer: dict[str, Any]
    integrations: dict[str, Any]
    timeline: list[dict[str, Any]]
    failures: list[dict[str, Any]]
    incidents: list[dict[str, Any]]


class ReplayRequest(BaseModel):
    """One step (`event_id` + `integration`) or every failed step of an integration in a
    window (`integration` + `since` + `until`). `dry_run` only counts."""

    model_config = ConfigDict(extra="forbid")

    integration: str = Field(min_length=1, max_length=64)
    event_id: str | None = Field(default=None, min_length=1, max_length=255)
    since: datetime | None = None
    until: datetime | None = None
    dry_run: bool = False

    @model_validator(mode="after")
    def _one_scope(self) -> ReplayRequest:
        self.since, self.until = sane_window(self.since, self.until)
        window = self.since is not None or self.until is not None
        if self.event_id is not None and window:
            raise ValueError("give either event_id, or since and until, not both")
        if self.event_id is None and (self.since is None or self.until is None):
            raise ValueError("give event_id, or both since and until")
        return self


class ReplayItem(BaseModel):
    event_id: str
    customer_id: str
    replay_id: str | None = None


class ReplayAnswer(BaseModel):
    queued: int
    dry_run: bool
    replays: list[ReplayItem]


def utc(value: datetime | None) -> datetime | None:
    """The time in UTC (one without a zone is taken as UTC). A time whose UTC value falls
    outside the calendar (year 1 at +14:00, say) is refused with `ValueError`."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is outside the range of dates (years 1 to 9999, UTC)") from None


#: a filter time outside [2000-01-01, now + a day] is a typo or a probe, never a real window
#: (Switchboard holds nothing older, and nothing from the future); refused with a 422 rather
#: than handed to the store, which answers year 1 or 9999 badly
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


class BadWindow(ValueError):
    """Both times are fine, but `until` is not after `since`."""


def sane_window(
    since: datetime | None, until: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """`since` and `until` in UTC, each within the sane range, `until` after `since`; else
    `ValueError` saying which and why."""
    latest = datetime.now(UTC) + FUTURE_SLACK
    checked = []
    for name, value in (("since", since), ("until", until)):
        try:
            value = utc(value)
        except ValueError as exc:
            raise ValueError(f"`{name}`: {exc}") from None
        if value is not None and not EARLIEST <= value <= latest:
            raise ValueError(
                f"`{name}` must be between {EARLIEST.date()} and a day from now (UTC), "
                f"got {value.isoformat()}"
            )
        checked.append(value)
    since, until = checked
    if since is not None and until is not None and until <= since:
        raise BadWindow("`until` must be after `since`")
    return since, until


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or invalid admin token"},
    422: {"model": ErrorBody, "description": "the request is not valid"},
}


def api_router(support: Support, customers: CustomerReadModel) -> APIRouter:
    # The scheme is declared for the OpenAPI document; the check itself runs in `main.py`.
    bearer = HTTPBearer(auto_error=False, description="an admin token")
    router = APIRouter(prefix="/api", dependencies=[Depends(bearer)], responses=_ERRORS)

    @router.get(
        "/customers",
        response_model=SearchResult,
        summary="Find customers by email, Stripe customer/subscription/payment id or event id",
    )
    async def search_customers(
        q: Annotated[str, Query(min_length=3, max_length=320, description="what to look for")],
    ) -> SearchResult:
        found = await views.search(customers, support.records.steps, q)
        return SearchResult(customers=[CustomerSummary(**c) for c in found])

    @router.get(
        "/customers/{customer_id}",
        response_model=CustomerPage,
        summary="A customer's state, each integration's status and the timeline of every event",
        responses={404: {"model": ErrorBody, "description": "no such customer"}},
    )
    async def get_customer(customer_id: str) -> CustomerPage:
        page = await customer_page.customer_page(
            customers, support.records, customer_id, support.integrations
        )
        return CustomerPage(**page)

    @router.get("/failures", response_model=FailureList, summary="Failed steps, newest first")
    async def list_failures(
        integration: Annotated[str | None, Query(max_length=64)] = None,
        since: datetime | None = None,
        until: datetime | None = None,
        status: StepStatus | None = None,
    ) -> FailureList:
        if integration is not None:
            support.replays.check_integration(integration)
        try:
            since, until = sane_window(since, until)
        except BadWindow as exc:
            raise ApiError(422, "invalid_window", str(exc)) from None
        except ValueError as exc:
            raise ApiError(422, "invalid_time", str(exc)) from None
        found = await views.failures(support.records.steps, integration, since, until, status)
        return FailureList(count=len(found), failures=found)

    @router.get("/tickets", response_model=TicketList, summary="Incident tickets, newest first")
    async def list_tickets() -> TicketList:
        found = await views.tickets(support.records.incidents)
        return TicketList(count=len(found), tickets=found)

    @router.get(
        "/reconcile",
        response_model=LastSweeps,
        summary="Each integration's last reconcile sweep: what it checked, found and repaired",
    )
    async def last_sweeps() -> LastSweeps:
        found = await reconcile_page.latest_sweeps(support.sweeps, support.integrations)
        return LastSweeps(integrations=found)

    @router.post(
        "/replays",
        response_model=ReplayAnswer,
        status_code=202,
        summary="Replay one failed step, or every failed step of an integration in a window",
        responses={
            404: {"model": ErrorBody, "description": "no failed step for this event"},
            409: {"model": ErrorBody, "description": "the step is not failed any more"},
        },
    )
    async def replay(request: ReplayRequest) -> ReplayAnswer:
        return await run_replay(support, request)

    return router


async def run_replay(support: Support, request: ReplayRequest) -> ReplayAnswer:
    if request.event_id is not None:
        if request.dry_run:
            step = await support.records.steps.get(step_id(request.integration, request.event_id))
            support.replays.check_integration(request.integration)
            if step is None or step["status"] not in REPLAYABLE:
                raise ApiError(404, "step_not_found", "no replayable step for this event")
            item = ReplayItem(event_id=step["event_id"], customer_id=step["customer_id"])
            return ReplayAnswer(queued=0, dry_run=True, replays=[item])
        one = await support.replays.replay_one(request.integration, request.event_id)
        items = [
            ReplayItem(event_id=one.event_id, customer_id=one.customer_id, replay_id=one.replay_id)
        ]
        return ReplayAnswer(queued=1, dry_run=False, replays=items)
    assert request.since is not None
    assert request.until is not None
    if request.dry_run:
        steps = await support.replays.replayable_in_window(
            request.integration, request.since, request.until
        )
        items = [ReplayItem(event_id=s["event_id"], customer_id=s["customer_id"]) for s in steps]
        return ReplayAnswer(queued=0, dry_run=True, replays=items)
    done = await support.replays.replay_window(request.integration, request.since, request.until)
    items = [
        ReplayItem(event_id=r.event_id, customer_id=r.customer_id, replay_id=r.replay_id)
        for r in done
    ]
    return ReplayAnswer(queued=len(items), dry_run=False, replays=items)
