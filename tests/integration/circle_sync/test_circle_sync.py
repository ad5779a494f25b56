"""The Circle sync against the sandbox's Circle: grant, revoke, and an email change, which Circle's
Admin API cannot make in place (no `email` on `PUT community_members/{id}`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from libs.contracts import Lifecycle
from libs.runtime.errors import TransientProviderError
from services.circle_sync.integration import CircleIntegration
from tests.conftest import unique_email
from tests.events import customer_event

from .conftest import add_fault, circle_state

CREATE = "POST /api/admin/v2/community_members"
ADD = "POST /api/admin/v2/access_groups/{id}/community_members"
REMOVE = "DELETE /api/admin/v2/access_groups/{id}/community_members"


def members(state: dict[str, Any], *emails: str) -> list[tuple[str, list[str]]]:
    wanted = {e.lower() for e in emails}
    return sorted(
        (m["email"].lower(), sorted(m["access_groups"]))
        for m in state["members"]
        if m["email"].lower() in wanted
    )


async def test_grant_then_revoke(circle: CircleIntegration, sandbox: FastAPI) -> None:
    email = unique_email()
    assert await circle.sync(customer_event(email), dry_run=False) == [
        "create_member",
        "add_access_group:Members",
    ]
    assert members(await circle_state(sandbox), email) == [(email, ["Members"])]
    revoked = await circle.sync(customer_event(email, Lifecycle.CANCELED, version=2), dry_run=False)
    assert revoked == ["remove_access_group:Members"]
    assert members(await circle_state(sandbox), email) == [(email, [])]


async def test_an_email_change_moves_access_to_the_new_address(
    circle: CircleIntegration, sandbox: FastAPI
) -> None:
    old, new = unique_email("old"), unique_email("new")
    await circle.sync(customer_event(old), dry_run=False)
    before = (await circle_state(sandbox))["requests"]

    moved = customer_event(new, version=2, previous_emails=(old,))
    actions = await circle.sync(moved, dry_run=False)
    assert actions == [
        "create_member",
        "add_access_group:Members",
        "remove_previous_access_group:Members",
    ]
    state = await circle_state(sandbox)
    # Circle cannot change a member's email: the old member stays, without any access.
    assert members(state, old, new) == [(new, ["Members"]), (old, [])]
    assert state["requests"][CREATE] == before[CREATE] + 1
    assert state["requests"][REMOVE] == 1

    # Later events of the customer find nothing left to do at the old address.
    assert (
        await circle.sync(customer_event(new, version=3, previous_emails=(old,)), dry_run=False)
        == []
    )
    # A cancel after the move revokes at the new address only.
    canceled = customer_event(new, Lifecycle.CANCELED, version=4, previous_emails=(old,))
    assert await circle.sync(canceled, dry_run=False) == ["remove_access_group:Members"]
    assert members(await circle_state(sandbox), old, new) == [(new, []), (old, [])]


async def test_a_move_that_failed_midway_is_finished_by_the_retry(
    make_circle: Callable[..., CircleIntegration], sandbox: FastAPI
) -> None:
    old, new = unique_email("old"), unique_email("new")
    circle = make_circle()
    await circle.sync(customer_event(old), dry_run=False)
    moved = customer_event(new, version=2, previous_emails=(old,))

    # The revoke at the old address (the move's only DELETE) fails once.
    await add_fault(sandbox, status=503, method="DELETE", count=1)
    with pytest.raises(TransientProviderError):
        await circle.sync(moved, dry_run=False)
    # In between, the customer holds access at both addresses, never at none.
    assert members(await circle_state(sandbox), old, new) == [
        (new, ["Members"]),
        (old, ["Members"]),
    ]

    retried = await make_circle().sync(moved, dry_run=False)
    assert retried == ["remove_previous_access_group:Members"]
    assert members(await circle_state(sandbox), old, new) == [(new, ["Members"]), (old, [])]


async def test_a_previous_address_nobody_has_costs_one_lookup(
    circle: CircleIntegration, sandbox: FastAPI
) -> None:
    email = unique_email()
    await circle.sync(customer_event(email), dry_run=False)
    again = customer_event(email, version=2, previous_emails=(unique_email("never"),))
    assert await circle.sync(again, dry_run=False) == []
