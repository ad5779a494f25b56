"""The incident state machine: one incident per (customer, integration) while open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.contracts import IncidentStatus
from services.support.incidents import (
    Effect,
    FailureFacts,
    IncidentRecord,
    Outcome,
    on_failure,
    on_success,
    pending_effects,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def facts(event_id: str = "evt_1", version: int = 1, replay_id: str | None = None) -> FailureFacts:
    return FailureFacts(
        event_id=event_id,
        replay_id=replay_id,
        event_type="checkout.session.completed",
        version=version,
        action="create_member",
        attempts=4,
        error_status=503,
        error_code="http_503",
        error_message="Service Unavailable",
        first_attempt_at=T0,
        failed_at=T0 + timedelta(seconds=3),
    )


def empty() -> IncidentRecord:
    return IncidentRecord(customer_id="cust_1", integration="circle")


def opened() -> IncidentRecord:
    record, outcome = on_failure(empty(), facts(), T0 + timedelta(seconds=4))
    assert outcome is Outcome.OPENED
    return record


def test_a_first_failure_opens_an_incident_that_needs_announcing_and_a_ticket() -> None:
    record = opened()
    assert record.open is not None
    assert record.open.incident_id == "inc_cust_1_circle_1"
    assert record.open.started_at == T0  # when the trouble started, not when support heard
    assert pending_effects(record.open) == [Effect.ANNOUNCE, Effect.CREATE_TICKET]


def test_the_same_failure_again_changes_nothing() -> None:
    record = opened()
    again, outcome = on_failure(record, facts(), T0 + timedelta(minutes=5))
    assert outcome is Outcome.DUPLICATE
    assert again == record


@pytest.mark.parametrize(
    "further",
    [facts("evt_2", version=2), facts("evt_1", version=1, replay_id="rpl_1")],
    ids=["another event", "a failed replay"],
)
def test_a_further_failure_adds_a_comment_not_an_incident(further: FailureFacts) -> None:
    record = opened()
    record = record.model_copy(
        update={"current": record.open.model_copy(update={"ticket_id": 7, "announced": "open"})}  # type: ignore[union-attr]
    )
    after, outcome = on_failure(record, further, T0 + timedelta(minutes=1))
    assert outcome is Outcome.COMMENTED
    assert after.seq == 1
    assert after.open is not None
    assert after.open.failures == 2
    assert after.open.pending_comments == (further,)
    assert pending_effects(after.open) == [Effect.COMMENT]


def test_a_success_of_the_newest_failed_state_resolves() -> None:
    record, _ = on_failure(opened(), facts("evt_2", version=2), T0)
    older, outcome = on_success(record, 1, "evt_1", T0 + timedelta(minutes=2))
    assert outcome is Outcome.NOTED  # version 2 is still not applied
    assert older.open is not None
    resolved, outcome = on_success(older, 2, "evt_2", T0 + timedelta(minutes=3))
    assert outcome is Outcome.RESOLVED
    assert resolved.open is None
    assert resolved.current is not None
    assert resolved.current.status is IncidentStatus.RESOLVED
    assert resolved.current.resolved_by_event_id == "evt_2"
    assert resolved.synced_version == 2


def test_resolving_asks_to_solve_the_ticket_and_announce() -> None:
    record = opened()
    current = record.open.model_copy(  # type: ignore[union-attr]
        update={"ticket_id": 7, "ticket_status": "open", "announced": IncidentStatus.OPEN}
    )
    record = record.model_copy(update={"current": current})
    resolved, _ = on_success(record, 1, "evt_1", T0)
    assert resolved.current is not None
    assert pending_effects(resolved.current) == [Effect.ANNOUNCE, Effect.SOLVE_TICKET]
    solved = resolved.current.model_copy(
        update={"ticket_status": "solved", "announced": IncidentStatus.RESOLVED}
    )
    assert pending_effects(solved) == []


def test_a_failure_of_a_state_already_synced_is_superseded() -> None:
    record = empty().model_copy(update={"synced_version": 3})
    after, outcome = on_failure(record, facts(version=2), T0)
    assert outcome is Outcome.SUPERSEDED
    assert after.current is None


def test_drift_a_repair_did_not_fix_opens_an_incident_at_a_synced_version() -> None:
    record = empty().model_copy(update={"synced_version": 3})
    drift = facts("reconcile:rec_1:cust_1", version=3).model_copy(update={"drift": True})
    after, outcome = on_failure(record, drift, T0)
    assert outcome is Outcome.OPENED
    # a later sweep that finds it gone reports the version synced: the incident resolves
    resolved, outcome = on_success(after, 3, "reconcile:rec_2:cust_1", T0 + timedelta(hours=1))
    assert outcome is Outcome.RESOLVED
    assert resolved.open is None


def test_a_failure_after_resolution_opens_a_new_incident_and_keeps_the_old() -> None:
    resolved, _ = on_success(opened(), 1, "evt_1", T0)
    again, outcome = on_failure(resolved, facts("evt_3", version=3), T0 + timedelta(hours=1))
    assert outcome is Outcome.OPENED
    assert again.open is not None
    assert again.open.incident_id == "inc_cust_1_circle_2"
    assert [i.incident_id for i in again.history] == ["inc_cust_1_circle_1"]


def test_no_ticket_is_created_for_an_incident_resolved_before_it_got_one() -> None:
    resolved, _ = on_success(opened(), 1, "evt_1", T0)
    assert resolved.current is not None
    assert pending_effects(resolved.current) == [Effect.ANNOUNCE]


def test_a_permanent_ticket_error_stops_retrying_the_creation() -> None:
    record = opened()
    assert record.open is not None
    failed = record.open.model_copy(
        update={"ticket_error": "http_422", "announced": IncidentStatus.OPEN}
    )
    assert pending_effects(failed) == []
