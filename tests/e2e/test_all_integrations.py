"""A purchase reaches every integration, and a cancel takes it back: signed webhook → ingest →
Kafka → circle_sync, convertkit_sync and crm_sync → the sandbox's Circle, Kit and HubSpot."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import unique_email

from .conftest import System, circle_member, wait_for

pytestmark = pytest.mark.e2e

# Each e2e session consumes `customer.events.v1` from the start with new consumer groups, so the
# workers first replay every earlier run's events; Kit's sandbox keeps Kit's real limit (120
# requests a minute), so that backlog can take minutes to drain before our events come up.
BACKLOG_TIMEOUT = 420.0


def kit_subscriber(state: dict[str, Any], email: str) -> dict[str, Any] | None:
    for subscriber in state["kit"]["subscribers"]:
        if subscriber["email_address"].lower() == email.lower():
            return dict(subscriber)
    return None


def hubspot_contact(state: dict[str, Any], email: str) -> dict[str, Any] | None:
    for contact in state["hubspot"]["contacts"]:
        if (contact["properties"].get("email") or "").lower() == email.lower():
            return dict(contact["properties"])
    return None


def kit_tags(system: System, email: str) -> list[str] | None:
    found = kit_subscriber(system.state(), email)
    return sorted(found["tags"]) if found else None


def crm_lifecycle(system: System, email: str) -> tuple[str, str] | None:
    found = hubspot_contact(system.state(), email)
    return (found.get("lifecyclestage"), found.get("switchboard_lifecycle")) if found else None


def test_a_purchase_reaches_every_integration_and_a_cancel_swaps_the_kit_tags(
    system: System,
) -> None:
    email = unique_email("everywhere")
    sent = system.trigger("purchase", email=email)
    assert sent["ingest"]["status_code"] == 200

    wait_for(
        lambda: "Members" in (circle_member(system.state(), email) or {}).get("access_groups", []),
        what="the Circle member in Members",
        timeout=BACKLOG_TIMEOUT,
    )
    wait_for(
        lambda: kit_tags(system, email) == ["customer"],
        what="the Kit tag customer",
        timeout=BACKLOG_TIMEOUT,
    )
    # `active` is published once all three integrations confirmed `paid`, so this also shows
    # that ingest saw every worker's result.
    wait_for(
        lambda: crm_lifecycle(system, email) == ("customer", "active"),
        what="the HubSpot contact: customer, active",
        timeout=BACKLOG_TIMEOUT,
    )
    state = system.state()
    subscribers = [s for s in state["kit"]["subscribers"] if s["email_address"] == email]
    assert len(subscribers) == 1
    assert subscribers[0]["state"] == "active"

    # One second later, so the cancel is plainly newer than the purchase in Stripe's time.
    canceled = system.trigger("cancel", customer=sent["customer_id"], created=int(time.time()) + 1)
    assert canceled["ingest"]["status_code"] == 200

    wait_for(
        lambda: kit_tags(system, email) == ["churned"],
        what="the Kit tag swap to churned",
        timeout=BACKLOG_TIMEOUT,
    )
    wait_for(
        lambda: crm_lifecycle(system, email) == ("customer", "canceled"),
        what="the HubSpot contact: still customer, canceled",
        timeout=BACKLOG_TIMEOUT,
    )
    wait_for(
        lambda: (
            "Members"
            not in (circle_member(system.state(), email) or {}).get("access_groups", ["Members"])
        ),
        what="the Circle access group removed",
        timeout=BACKLOG_TIMEOUT,
    )
    after = kit_subscriber(system.state(), email)
    assert after is not None
    assert after["state"] == "active"  # tags changed; the person was never unsubscribed
