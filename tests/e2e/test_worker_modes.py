"""Mode and rollout per integration on the real stack, with circle_sync as the worker: shadow
plans and calls nothing; a 10 % rollout syncs exactly the customers its stable hash selects,
the same ones after a restart. Settings change by restarting circle_sync with other env."""

from __future__ import annotations

import time
import uuid

import pytest

from libs.runtime.integration import in_rollout
from tests.conftest import unique_email

from .conftest import System, circle_member
from .worker_support import (
    circle_counts,
    circle_with,
    customer_event,
    in_group,
    metrics,
    publish_events,
    restart_circle,
    results,
    sample,
)

pytestmark = pytest.mark.e2e

PLANNED = ["create_member", "add_access_group:Members"]


def test_shadow_mode_plans_calls_nothing_and_reports_shadow(system: System) -> None:
    with circle_with(system, {"SWITCHBOARD_CIRCLE_MODE": "shadow"}):
        sync_results = results(system)
        before, m0 = circle_counts(system), metrics()
        emails = [unique_email("shadow") for _ in range(3)]
        sent = [system.trigger("purchase", email=email) for email in emails]

        for event in sent:
            result = sync_results.wait(event["event_id"], "shadow")
            assert result["actions"] == PLANNED  # what `on` would have done
            assert result["attempts"] == 1
            assert result["error"] is None
        time.sleep(1)  # a wrong write would be in by now

        assert circle_counts(system) == before  # not one create, grant or removal
        state = system.state()
        assert [circle_member(state, email) for email in emails] == [None, None, None]
        m1 = metrics()
        planned = {"action": "create_member", "outcome": "shadow"}
        # at least one per purchase (ingest's follow-up "active" event is planned again)
        assert (
            sample(m1, "switchboard_sync_actions_total", **planned)
            - sample(m0, "switchboard_sync_actions_total", **planned)
            >= 3
        )
        done = {"action": "create_member", "outcome": "done"}
        assert sample(m1, "switchboard_sync_actions_total", **done) == 0


def test_a_10_percent_rollout_syncs_the_customers_it_selects_every_time(system: System) -> None:
    ids = (f"cust_rollout_{uuid.uuid4().hex[:12]}" for _ in range(10_000))
    inside: list[str] = []
    outside: list[str] = []
    for customer_id in ids:
        chosen = inside if in_rollout(customer_id, 10) else outside
        if len(chosen) < 3:
            chosen.append(customer_id)
        if len(inside) == len(outside) == 3:
            break
    emails = {customer_id: unique_email("rollout") for customer_id in inside + outside}
    rollout = {"SWITCHBOARD_CIRCLE_ROLLOUT_PERCENT": "10"}

    with circle_with(system, rollout):
        for version in (1, 2):  # the second round runs in a freshly started process
            if version == 2:
                restart_circle(system, rollout)
            sync_results = results(system)
            events = [customer_event(c, e, version) for c, e in emails.items()]
            publish_events(system, events)
            outcomes = {
                event.customer_id: sync_results.wait(event.event_id)["outcome"] for event in events
            }
            assert outcomes == {
                **dict.fromkeys(inside, "synced"),
                **dict.fromkeys(outside, "off"),
            }, f"round {version}"

        state = system.state()
        assert all(in_group(system, emails[c]) for c in inside)
        assert [circle_member(state, emails[c]) for c in outside] == [None, None, None]
