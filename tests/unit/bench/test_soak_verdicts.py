"""The soak's grading (pure): what counts as converged, lost, visibly failed, still pending with
a reason, or silently stuck."""

from __future__ import annotations

from typing import Any

from bench.soak.scenario import Expected
from bench.soak.verdicts import Status, grade

EMAIL = "jane@example.com"
SYNCED = {"circle": "synced", "convertkit": "synced", "crm": "synced"}


def state(*, member: bool, tags: list[str], lifecycle: str, tickets: int = 0) -> dict[str, Any]:
    def empty(**items: Any) -> dict[str, Any]:
        return {**items, "requests": {}}

    return {
        "circle": empty(members=[{"email": EMAIL, "access_groups": ["Members"] if member else []}]),
        "kit": empty(subscribers=[{"email_address": EMAIL, "tags": tags}]),
        "hubspot": empty(
            contacts=[{"properties": {"email": EMAIL, "switchboard_lifecycle": lifecycle}}]
        ),
        "zendesk": empty(
            tickets=[
                {"external_id": f"x{n}", "requester_email": EMAIL, "tags": ["integration_circle"]}
                for n in range(tickets)
            ]
        ),
    }


def graded(world: dict[str, Any], status: Status, *, moving: bool = False) -> dict[str, Any]:
    want = {EMAIL: Expected("canceled")}
    return grade(want, {EMAIL: "refund"}, world, {EMAIL: status}, moving=moving)


def test_a_customer_every_provider_agrees_with_is_converged() -> None:
    v = graded(
        state(member=False, tags=["churned"], lifecycle="canceled"), Status(200, "canceled", SYNCED)
    )
    assert v["converged"] == 1


def test_a_step_still_queued_while_things_move_is_pending_not_stuck() -> None:
    status = Status(200, "canceled", {**SYNCED, "circle": "pending"}, reasons={"circle": "queued"})
    world = state(member=True, tags=["churned"], lifecycle="canceled")
    late = graded(world, status, moving=True)
    assert late["still_pending"]["customers"] == 1
    assert late["silently_stuck"]["customers"] == 0
    # once nothing moved for a while, the same step is stuck, whatever reason it gives
    stalled = graded(world, status, moving=False)
    assert stalled["silently_stuck"]["customers"] == 1


def test_a_mismatch_with_a_ticket_is_a_visible_failure() -> None:
    status = Status(200, "canceled", {**SYNCED, "circle": "failed"})
    v = graded(state(member=True, tags=["churned"], lifecycle="canceled", tickets=1), status)
    assert (v["visibly_failed"]["customers"], v["silently_stuck"]["customers"]) == (1, 0)


def test_a_customer_ingest_does_not_know_is_lost() -> None:
    v = graded(state(member=False, tags=[], lifecycle=""), Status(404))
    assert v["lost"]["customers"] == 1
