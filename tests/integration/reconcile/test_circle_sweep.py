"""A Circle sweep in-process: drift made by hand through Circle's API is found from the access
group's member pages (no read per customer), classified, repaired through a repair step that
plans against the corrected ledger (only the calls the repair needs), and a second sweep finds
nothing. Unknown people are reported, not removed, unless the setting says so."""

from __future__ import annotations

from fastapi import FastAPI

from libs.contracts import Lifecycle
from libs.runtime.dedupe import lookup
from tests.conftest import unique_email

from .conftest import World, make_world


async def test_drift_made_by_hand_is_found_repaired_and_gone_on_the_next_sweep(
    circle_world: World,
) -> None:
    world, client = circle_world, circle_world.integration.client
    removed = await world.customer("cust_a", unique_email("removed"), Lifecycle.ACTIVE)
    refunded = await world.customer("cust_b", unique_email("refunded"), Lifecycle.CANCELED)
    fine = await world.customer("cust_c", unique_email("fine"), Lifecycle.ACTIVE)
    stranger = unique_email("friend")
    # by hand: a moderator removes a paying member, grants a refunded one, adds a friend
    await client.remove_from_group("Members", removed.emails[0])
    await client.create_member(refunded.emails[0], None, True)
    await client.add_to_group("Members", refunded.emails[0])
    await client.create_member(stranger, None, True)
    await client.add_to_group("Members", stranger)

    looked = await world.sweep(dry_run=True)  # found, nothing done: every invariant stands
    assert looked.invariants["paying_without_access"] == 1
    assert looked.invariants["access_without_payment"] == 1
    assert looked.invariants["unknown_with_access"] == 1

    before = await world.calls()
    swept = await world.sweep()
    summary = swept.summary
    assert summary is not None
    # a page of each managed group's memberships (Members, Canary: their ids are known from
    # the sync and the dry run) and one of the members' addresses: no read per customer
    assert await world.calls() - before == summary.calls == 3
    assert summary.checked == 3
    assert {k: n for k, n in summary.found.items() if n} == {
        "missing_access": 1,
        "extra_access": 1,
        "unknown_person": 1,
    }
    assert (summary.repaired, summary.reported) == (2, 1)
    # repaired ones no longer stand; the unknown person, reported, does
    assert swept.invariants["paying_without_access"] == 0
    assert swept.invariants["access_without_payment"] == 0
    assert swept.invariants["unknown_with_access"] == 1
    by_email = {f.email: f for f in swept.findings}
    assert by_email[stranger].outcome == "reported"
    assert by_email[stranger].holds == ("Members",)
    assert fine.emails[0] not in by_email

    # the repairs are steps: each plans against the corrected ledger, calling only what it needs
    assert sorted(e.customer_id for e in world.outlet.repairs) == ["cust_a", "cust_b"]
    before = await world.calls()
    for repair in world.outlet.repairs:
        assert repair.repair
        assert repair.version == 1
        await world.run_step(repair)
    assert await world.calls() - before == 2  # one grant, one revoke, no read

    again = await world.sweep()
    assert again.summary is not None
    assert {k: n for k, n in again.summary.found.items() if n} == {"unknown_person": 1}
    assert len(world.outlet.repairs) == 2  # nothing new to repair


async def test_a_ledger_behind_the_provider_is_corrected_without_a_call(
    circle_world: World,
) -> None:
    world = circle_world
    known = await world.customer("cust_l", unique_email("ledger"), Lifecycle.ACTIVE)
    # the ledger lost what it knew (as if written before the grant was confirmed)
    seen = await lookup(world.dedupe, "cust_l")
    world.dedupe.put("cust_l", type(seen)(seen.version, seen.desired_key, seen.recent, 0, {}))

    swept = await world.sweep()
    assert swept.summary is not None
    assert {k: n for k, n in swept.summary.found.items() if n} == {"ledger_out_of_date": 1}
    assert world.outlet.repairs == []
    fixed = await lookup(world.dedupe, "cust_l")
    assert fixed.ledger == {"members": {known.emails[0].casefold(): ["Members"]}}


async def test_a_repair_that_does_not_hold_opens_one_ticket_that_resolves_when_it_is_gone(
    circle_world: World,
) -> None:
    world, client = circle_world, circle_world.integration.client
    known = await world.customer("cust_t", unique_email("stubborn"), Lifecycle.ACTIVE)
    email = known.emails[0]
    await client.remove_from_group("Members", email)
    first = await world.sweep()
    assert [f.outcome for f in first.findings] == ["repaired"]
    second = await world.sweep()  # the repair has not run yet: no ticket, no second repair
    assert [f.outcome for f in second.findings] == ["reported"]
    assert len(world.outlet.repairs) == 1
    assert world.outlet.tickets == []

    await world.run_step(world.outlet.repairs[0])
    await client.remove_from_group("Members", email)  # and someone removes it again
    third = await world.sweep()
    assert [f.outcome for f in third.findings] == ["ticketed"]
    assert len(world.outlet.tickets) == 1
    ticket = world.outlet.tickets[0]
    assert ticket.kind == "drift"
    assert ticket.customer_id == "cust_t"
    assert "missing_access" in ticket.error.message
    assert "add_access_group" in ticket.action
    fourth = await world.sweep()  # still there: reported, no second ticket
    assert [f.outcome for f in fourth.findings] == ["ticketed"]
    assert len(world.outlet.tickets) == 1

    await client.add_to_group("Members", email)  # a person fixed it
    await world.sweep()
    assert [r.customer_id for r in world.outlet.resolved_results] == ["cust_t"]
    assert world.outlet.resolved_results[0].version == known.version
    assert await world.store.drift("circle") == {}


async def test_a_dry_run_changes_nothing(circle_world: World) -> None:
    world, client = circle_world, circle_world.integration.client
    known = await world.customer("cust_d", unique_email("dry"), Lifecycle.ACTIVE)
    await client.remove_from_group("Members", known.emails[0])
    seen = await lookup(world.dedupe, "cust_d")
    swept = await world.sweep(dry_run=True)
    assert [f.kinds for f in swept.findings] == [("missing_access",)]
    assert [f.outcome for f in swept.findings] == ["reported"]
    assert world.outlet.repairs == []
    assert await world.store.drift("circle") == {}
    assert (await lookup(world.dedupe, "cust_d")).ledger == seen.ledger


async def test_a_customer_whose_newest_state_is_on_its_way_is_left_for_the_next_sweep(
    circle_world: World,
) -> None:
    world, client = circle_world, circle_world.integration.client
    known = await world.customer("cust_f", unique_email("flight"), Lifecycle.ACTIVE)
    await client.remove_from_group("Members", known.emails[0])
    customer = world.canonical.by_id["cust_f"]
    world.canonical.put(customer.model_copy(update={"version": 2}))  # not yet at the worker
    swept = await world.sweep()
    assert swept.findings == ()
    assert swept.skipped_in_flight == 1


async def test_unknown_people_are_removed_when_the_setting_says_remove(sandbox: FastAPI) -> None:
    world = await make_world(sandbox, "circle", reconcile_unknown="remove")
    try:
        stranger = unique_email("friend")
        await world.integration.client.create_member(stranger, None, True)
        await world.integration.client.add_to_group("Members", stranger)
        swept = await world.sweep()
        assert [(f.email, f.outcome, f.actions) for f in swept.findings] == [
            (stranger.casefold(), "repaired", ("remove_from_access_group:Members",))
        ]
        assert not await world.integration.client.in_group("Members", stranger)
    finally:
        await world.integration.aclose()
