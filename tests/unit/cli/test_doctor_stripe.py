"""The doctor's Stripe checks against the sandbox's account settings (`/_sandbox/doctor`): the
webhook endpoint must point at this environment's ingest, be enabled and send every event type
ingest handles; no other environment's ingest may hang on the same account; the key reads only."""

from __future__ import annotations

from typing import Any

from sandbox.doctor import HANDLED_EVENTS
from services.ingest.normalize import HANDLED_TYPES

from .test_doctor_support import INGEST, Outcome, control, doctor, provision, sandbox_app

STAGING = "https://staging.example.com/webhooks/stripe"


async def with_endpoints(*endpoints: dict[str, Any], **config: Any) -> Outcome:
    app = sandbox_app()
    await provision(app)
    body = {"webhook_endpoints": list(endpoints), **config} if endpoints else config
    await control(app, "POST", "/_sandbox/doctor", json=body)
    return await doctor(app)


def test_the_sandbox_enables_what_ingest_handles() -> None:
    assert set(HANDLED_EVENTS) == HANDLED_TYPES


async def test_a_staging_endpoint_on_this_account_fails_even_beside_ours() -> None:
    outcome = await with_endpoints({"url": INGEST}, {"url": STAGING})
    assert outcome.failed() == {"stripe webhook endpoint"}
    check = outcome.checks["stripe webhook endpoint"]
    assert STAGING in check["detail"]
    assert "remove the other environment's endpoint" in check["fix"]


async def test_no_endpoint_at_this_ingest_fails_and_names_what_is_registered() -> None:
    outcome = await with_endpoints({"url": "https://zapier.example.net/hooks/123"})
    assert outcome.failed() == {"stripe webhook endpoint", "stripe webhook events"}
    detail = outcome.checks["stripe webhook endpoint"]["detail"]
    assert f"none points at {INGEST}" in detail
    assert "zapier.example.net" in detail


async def test_a_disabled_endpoint_fails() -> None:
    outcome = await with_endpoints({"url": INGEST, "status": "disabled"})
    assert "is disabled" in outcome.checks["stripe webhook endpoint"]["detail"]
    assert outcome.failed() == {"stripe webhook endpoint", "stripe webhook events"}


async def test_events_ingest_handles_but_the_endpoint_does_not_send_are_named() -> None:
    events = [e for e in HANDLED_EVENTS if e not in ("charge.refunded", "invoice.paid")]
    outcome = await with_endpoints({"url": INGEST, "enabled_events": events})
    assert outcome.failed() == {"stripe webhook events"}
    detail = outcome.checks["stripe webhook events"]["detail"]
    assert detail.endswith("does not send charge.refunded, invoice.paid")


async def test_an_endpoint_with_every_event_passes() -> None:
    outcome = await with_endpoints({"url": INGEST + "/", "enabled_events": ["*"]})
    assert outcome.failed() == set()


async def test_a_restricted_key_that_may_write_fails() -> None:
    outcome = await with_endpoints(stripe_key_writes=True)
    assert outcome.failed() == {"stripe key privilege"}
    assert "may write" in outcome.checks["stripe key privilege"]["detail"]
