"""Circle against its ledger: a customer never seen is written first, with no read; the provider
is read only when an answer shows the ledger wrong, and the ledger is corrected from it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from libs.contracts import Lifecycle
from libs.runtime.ledger import Ledger
from services.circle_sync.integration import CircleIntegration
from tests.conftest import unique_email
from tests.events import customer_event

from .conftest import circle_state
from .test_circle_sync import members


async def calls(sandbox: FastAPI) -> tuple[dict[str, int], int]:
    """The sandbox's reads by endpoint, and every call it answered."""
    state = await circle_state(sandbox)
    return dict(state["reads"]), int(state["calls"])


def spent(before: tuple[dict[str, int], int], after: tuple[dict[str, int], int]) -> Any:
    reads = {k: v - before[0].get(k, 0) for k, v in after[0].items() if v != before[0].get(k, 0)}
    return reads, after[1] - before[1]


async def warm(circle: CircleIntegration) -> None:
    """The group's id is looked up once per process: done before counting."""
    await circle.sync(customer_event(unique_email("warm")), dry_run=False, ledger=Ledger())


async def test_a_new_customer_costs_a_create_and_a_grant_and_the_ledger_says_so(
    circle: CircleIntegration, sandbox: FastAPI
) -> None:
    await warm(circle)
    email, ledger = unique_email(), Ledger()
    before = await calls(sandbox)
    assert await circle.sync(customer_event(email), dry_run=False, ledger=ledger) == [
        "create_member",
        "add_access_group:Members",
    ]
    assert spent(before, await calls(sandbox)) == ({}, 2)
    assert ledger.state == {"members": {email.casefold(): ["Members"]}}
    # the follow-up (`active`) asks for nothing new: no call
    before = await calls(sandbox)
    active = customer_event(email, Lifecycle.ACTIVE, version=2)
    assert await circle.sync(active, dry_run=False, ledger=ledger) == []
    assert spent(before, await calls(sandbox)) == ({}, 0)


async def test_a_member_that_existed_is_read_once_by_id(
    circle: CircleIntegration, sandbox: FastAPI
) -> None:
    await warm(circle)
    email = unique_email()
    await circle.client.create_member(email, None, True)  # joined the free community before
    before = await calls(sandbox)
    actions = await circle.sync(customer_event(email), dry_run=False, ledger=Ledger())
    assert actions == ["create_member", "add_access_group:Members"]
    reads, total = spent(before, await calls(sandbox))
    assert reads == {"GET /api/admin/v2/community_members/{id}/access_groups": 1}
    assert total == 3
    assert members(await circle_state(sandbox), email) == [(email, ["Members"])]


async def test_a_member_removed_by_hand_is_created_again(
    circle: CircleIntegration, sandbox: FastAPI
) -> None:
    email, ledger = unique_email(), Ledger()
    await circle.sync(customer_event(email, Lifecycle.CANCELED), dry_run=False, ledger=ledger)
    await circle.client.create_member(email, None, True)
    ledger.state = {"members": {email.casefold(): []}}  # the ledger says: a member, no group
    member = (await circle.client.find_member(email)) or {}
    await circle.client.http.request(
        "DELETE", "/api/admin/v2/community_members/{id}", path={"id": member["id"]}
    )
    actions = await circle.sync(customer_event(email, version=2), dry_run=False, ledger=ledger)
    # the grant's 404 showed the ledger wrong: forgotten, created again, granted
    assert actions == ["add_access_group:Members", "create_member", "add_access_group:Members"]
    assert members(await circle_state(sandbox), email) == [(email, ["Members"])]
    assert ledger.state == {"members": {email.casefold(): ["Members"]}}


async def test_an_untrusted_ledger_reads_circle_first(
    circle: CircleIntegration, sandbox: FastAPI
) -> None:
    email = unique_email()
    await circle.client.create_member(email, None, True)
    await circle.client.add_to_group("Members", email)  # granted by hand
    ledger = Ledger(trusted=False)  # a replay, or a customer older than the ledger
    assert await circle.sync(customer_event(email), dry_run=False, ledger=ledger) == []
    assert ledger.state == {"members": {email.casefold(): ["Members"]}}
