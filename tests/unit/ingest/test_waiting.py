"""A step the worker holds behind the provider's rate limit (`waiting`): ingest keeps it as a
progress report with its estimate, never over an end; the status API says which access is queued
and about when."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from libs.contracts import SYNC_RESULTS, Lifecycle, SyncOutcome, SyncResult
from services.ingest.canonical import CanonicalCustomer, Step, apply_result, step_of
from services.ingest.next_step import next_step
from services.ingest.settings import IngestSettings
from services.ingest.status import status_router

from .world import ENABLED, checkout, running

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PAID = "Payment received — your community access is being set up."


def customer(version: int = 1, **fields: object) -> CanonicalCustomer:
    return CanonicalCustomer.model_validate(
        {
            "_id": "c1",
            "email": "jane@example.com",
            "lifecycle": "paid",
            "version": version,
            "version_at": NOW - timedelta(seconds=30),
            **fields,
        }
    )


def report(
    c: CanonicalCustomer,
    outcome: str,
    *,
    version: int = 1,
    at: datetime = NOW,
    expected_at: datetime | None = None,
    integration: str = "circle",
) -> CanonicalCustomer:
    after, _ = apply_result(
        c, integration, outcome, version, f"evt_{version}", None, at, ENABLED, 0, expected_at
    )
    return after


# --- canonical: what a `waiting` report does to the record -------------------------------------


def test_waiting_shows_pending_with_its_estimate() -> None:
    c = report(customer(), "waiting", expected_at=NOW + timedelta(minutes=3))
    assert step_of(c, "circle") == Step(
        status="pending", reason="waiting", since=NOW, expected_at=NOW + timedelta(minutes=3)
    )
    assert step_of(c, "convertkit").reason == "queued"


def test_waiting_then_synced_ends_synced() -> None:
    c = report(customer(), "waiting", expected_at=NOW + timedelta(minutes=3))
    c = report(c, "synced", at=NOW + timedelta(minutes=2))
    step = step_of(c, "circle")
    assert (step.status, step.reason, step.expected_at) == ("synced", None, None)
    assert c.integrations["circle"].expected_at is None


def test_a_late_waiting_after_synced_is_ignored() -> None:
    synced = report(customer(), "synced", at=NOW)
    late = report(synced, "waiting", at=NOW + timedelta(seconds=5), expected_at=NOW)
    assert late == synced
    assert step_of(late, "circle").status == "synced"


def test_a_waiting_for_an_older_version_is_ignored() -> None:
    synced = report(customer(version=2), "synced", version=2)
    old = report(synced, "waiting", version=1, expected_at=NOW + timedelta(minutes=1))
    assert old == synced


def test_a_waiting_for_a_version_not_yet_current_leaves_the_step_queued() -> None:
    c = report(customer(version=2), "waiting", version=1, expected_at=NOW + timedelta(minutes=1))
    assert step_of(c, "circle").reason == "queued"  # the newer version is not reported on yet


def test_a_later_waiting_moves_the_estimate() -> None:
    c = report(customer(), "waiting", expected_at=NOW + timedelta(minutes=1))
    c = report(c, "waiting", at=NOW + timedelta(seconds=50), expected_at=NOW + timedelta(minutes=4))
    assert step_of(c, "circle").expected_at == NOW + timedelta(minutes=4)


def test_between_retrying_and_waiting_the_latest_report_wins() -> None:
    retrying = report(customer(), "retrying", at=NOW)
    waiting = report(retrying, "waiting", at=NOW + timedelta(seconds=1), expected_at=NOW)
    assert step_of(waiting, "circle").reason == "waiting"
    again = report(waiting, "retrying", at=NOW + timedelta(seconds=2))
    assert (step_of(again, "circle").reason, step_of(again, "circle").expected_at) == (
        "retrying",
        None,
    )
    # a report older than the one recorded changes nothing
    assert report(again, "waiting", at=NOW, expected_at=NOW) == again


def test_a_record_from_before_expected_at_still_loads() -> None:
    c = customer(integrations={"circle": {"status": "retrying", "version": 1, "at": NOW}})
    assert step_of(c, "circle").expected_at is None


# --- next_step: the sentence the app shows ------------------------------------------------------


def waiting(expected_at: datetime | None) -> Step:
    return Step(status="pending", reason="waiting", since=NOW, expected_at=expected_at)


QUEUED = Step(status="pending", reason="queued", since=NOW)
SYNCED = Step(status="synced", since=NOW)


@pytest.mark.parametrize(
    ("ahead", "said"),
    [
        (timedelta(minutes=3), "expected within about 3 minutes"),
        (timedelta(minutes=2, seconds=1), "expected within about 3 minutes"),  # rounded up
        (timedelta(seconds=60), "expected within about 1 minute"),
        (timedelta(seconds=61), "expected within about 2 minutes"),
        (timedelta(seconds=59), "expected within a minute"),
        (timedelta(seconds=1), "expected within a minute"),
        (timedelta(0), "expected any moment now"),
        (timedelta(minutes=-2), "expected any moment now"),  # the estimate is past
    ],
)
def test_the_estimate_is_told_in_whole_minutes(ahead: timedelta, said: str) -> None:
    steps = {"circle": waiting(NOW + ahead), "convertkit": SYNCED, "crm": QUEUED}
    assert next_step(customer(), steps, NOW) == (
        f"Payment received — your community access is queued behind other new members; {said}."
    )


def test_several_waiting_steps_name_each_and_take_the_latest_estimate() -> None:
    steps = {
        "circle": waiting(NOW + timedelta(minutes=2)),
        "convertkit": waiting(NOW + timedelta(minutes=5)),
        "crm": waiting(NOW + timedelta(minutes=30)),  # nothing the buyer sees: not counted
    }
    assert next_step(customer(), steps, NOW) == (
        "Payment received — your community access and your welcome emails are queued behind "
        "other new members; expected within about 5 minutes."
    )


def test_welcome_emails_alone_are_plural() -> None:
    steps = {"circle": SYNCED, "convertkit": waiting(NOW + timedelta(minutes=1)), "crm": QUEUED}
    assert next_step(customer(), steps, NOW) == (
        "Payment received — your welcome emails are queued behind other new members; "
        "expected within about 1 minute."
    )


def test_only_crm_waiting_keeps_the_usual_paid_text() -> None:
    steps = {"circle": QUEUED, "convertkit": SYNCED, "crm": waiting(NOW + timedelta(minutes=9))}
    assert next_step(customer(), steps, NOW) == PAID


def test_a_waiting_step_without_an_estimate_says_queued_only() -> None:
    steps = {"circle": waiting(None), "convertkit": SYNCED, "crm": SYNCED}
    assert next_step(customer(), steps, NOW) == (
        "Payment received — your community access is queued behind other new members."
    )


def test_a_failure_or_an_incident_still_comes_first() -> None:
    steps = {
        "circle": waiting(NOW + timedelta(minutes=3)),
        "convertkit": Step(status="failed", since=NOW),
        "crm": SYNCED,
    }
    assert next_step(customer(), steps, NOW).startswith(
        "Payment received — setting up your access is taking longer than usual"
    )
    alone = {"circle": waiting(NOW + timedelta(minutes=3)), "convertkit": SYNCED, "crm": SYNCED}
    assert next_step(customer(needs_support=True), alone, NOW).startswith(
        "Payment received — setting up your access is taking longer than usual"
    )


def test_the_other_lifecycles_keep_their_text() -> None:
    steps = {"circle": waiting(NOW + timedelta(minutes=3)), "convertkit": SYNCED, "crm": SYNCED}
    active = customer(lifecycle=Lifecycle.ACTIVE)
    assert next_step(active, steps, NOW) == "You're all set — your membership is active."
    no_wait = {name: QUEUED for name in ENABLED}
    assert next_step(customer(), no_wait, NOW) == PAID


# --- the status endpoint, after a `waiting` result came through sync.results.v1 ----------------


async def test_the_status_endpoint_says_what_is_queued_and_until_about_when() -> None:
    async with running() as (world, kafka):
        email = f"jane.{uuid.uuid4().hex[:8]}@example.com"
        await world.accept(checkout(email, "cus_w1"))
        cid = (await world.customer_of(email)).customer_id
        expected = NOW + timedelta(minutes=2, seconds=30)
        waiting_result = SyncResult(
            event_id="evt_w1",
            customer_id=cid,
            version=1,
            integration="circle",
            outcome=SyncOutcome.WAITING,
            at=NOW - timedelta(seconds=10),
            expected_at=expected,
        )
        await kafka.publish_batch(waiting_result.to_bytes(), topic=SYNC_RESULTS)
        await world.ingest.service.drain()

        app = FastAPI()
        app.include_router(
            status_router(IngestSettings.load(env="local"), world.customers, clock=lambda: NOW)
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest"
        ) as client:
            answer = await client.get(
                "/v1/customers/status",
                params={"email": email},
                headers={"Authorization": "Bearer local-app-token"},
            )
            spec = (await client.get("/openapi.json")).json()
    assert answer.status_code == 200
    body = answer.json()
    assert body["lifecycle"] == "paid"
    assert body["next_step"] == (
        "Payment received — your community access is queued behind other new members; "
        "expected within about 3 minutes."
    )
    circle = body["integrations"]["circle"]
    assert (circle["status"], circle["reason"]) == ("pending", "waiting")
    assert circle["expected_at"] == "2026-11-27T12:02:30Z"
    assert circle["since"] == "2026-11-27T11:59:50Z"
    assert body["integrations"]["convertkit"]["reason"] == "queued"
    assert body["integrations"]["convertkit"]["expected_at"] is None
    view = spec["components"]["schemas"]["IntegrationView"]["properties"]
    assert "`waiting`" in view["expected_at"]["description"]
    assert "`waiting`" in view["reason"]["description"]


def test_a_report_without_a_time_zone_is_read_as_utc() -> None:
    c = report(customer(), "waiting", at=NOW, expected_at=NOW + timedelta(minutes=1))
    naive = NOW.replace(tzinfo=None) + timedelta(seconds=1)
    c = report(c, "waiting", at=naive, expected_at=naive + timedelta(minutes=2))
    steps = {"circle": step_of(c, "circle"), "convertkit": SYNCED, "crm": SYNCED}
    assert next_step(c, steps, NOW).endswith("expected within about 3 minutes.")
