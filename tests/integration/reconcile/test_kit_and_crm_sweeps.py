"""Kit and HubSpot sweeps in-process: tags removed or added by hand and a CRM stage moved back
are found from the providers' pages (a tag's subscribers; the contacts carrying
`switchboard_customer_id`), repaired through repair steps that call only what the repair needs,
and gone on the next sweep."""

from __future__ import annotations

from libs.contracts import Lifecycle
from tests.conftest import unique_email

from .conftest import World


def found(world_summary: dict[str, int]) -> dict[str, int]:
    return {kind: n for kind, n in world_summary.items() if n}


async def test_kit_stale_tags_are_found_and_repaired(kit_world: World) -> None:
    world, client = kit_world, kit_world.integration.client
    untagged = await world.customer("cust_u", unique_email("untagged"), Lifecycle.ACTIVE)
    churned = await world.customer("cust_c", unique_email("churned"), Lifecycle.ACTIVE)
    canceled = await world.customer("cust_x", unique_email("canceled"), Lifecycle.CANCELED)
    await world.customer("cust_ok", unique_email("fine"), Lifecycle.ACTIVE)
    await client.remove_tag("customer", untagged.emails[0])  # someone deleted the tag
    await client.add_tag("churned", churned.emails[0])  # a paying customer tagged churned
    await client.add_tag("customer", canceled.emails[0])  # a canceled one tagged customer

    looked = await world.sweep(dry_run=True)
    assert looked.invariants["canceled_still_tagged"] == 1
    before = await world.calls()
    swept = await world.sweep()
    assert swept.summary is not None
    # a page per managed tag (customer, churned): no read per customer
    assert await world.calls() - before == swept.summary.calls == 2
    assert found(swept.summary.found) == {"stale_tag": 3}
    assert swept.invariants["canceled_still_tagged"] == 0  # repaired: it no longer stands
    actions = {f.customer_id: f.actions for f in swept.findings}
    assert actions == {
        "cust_u": ("add_tag:customer",),
        "cust_c": ("remove_tag:churned",),
        "cust_x": ("remove_tag:customer",),
    }

    before = await world.calls()
    for repair in world.outlet.repairs:
        await world.run_step(repair)
    assert await world.calls() - before == 3  # one tag call each, no upsert, no read
    again = await world.sweep()
    assert again.summary is not None
    assert found(again.summary.found) == {}


async def test_kit_unknown_subscribers_with_a_managed_tag_are_reported(kit_world: World) -> None:
    world, client = kit_world, kit_world.integration.client
    stranger = unique_email("stranger")
    await client.upsert_subscriber(stranger, None)
    await client.add_tag("customer", stranger)
    swept = await world.sweep()
    assert [(f.email, f.kinds, f.holds, f.outcome) for f in swept.findings] == [
        (stranger.casefold(), ("unknown_person",), ("customer",), "reported")
    ]


async def test_a_crm_stage_moved_back_by_hand_is_found_and_repaired(crm_world: World) -> None:
    world, client = crm_world, crm_world.integration.client
    moved = await world.customer("cust_s", unique_email("stage"), Lifecycle.ACTIVE)
    await world.customer("cust_f", unique_email("fine"), Lifecycle.ACTIVE)
    await client.upsert_contact(moved.emails[0], {"lifecyclestage": ""})
    await client.upsert_contact(moved.emails[0], {"lifecyclestage": "lead"})

    looked = await world.sweep(dry_run=True)
    assert looked.invariants["crm_stage_mismatch"] == 1
    before = await world.calls()
    swept = await world.sweep()
    assert swept.summary is not None
    assert await world.calls() - before == swept.summary.calls == 1  # one search page
    assert found(swept.summary.found) == {"wrong_stage": 1}
    assert swept.invariants["crm_stage_mismatch"] == 0
    assert [f.actions for f in swept.findings] == [("upsert_contact:lifecyclestage",)]

    before = await world.calls()
    for repair in world.outlet.repairs:
        await world.run_step(repair)
    assert await world.calls() - before == 1  # lead -> customer moves forward: one upsert
    again = await world.sweep()
    assert again.summary is not None
    assert found(again.summary.found) == {}


async def test_an_unknown_subscriber_only_tagged_churned_holds_no_access(kit_world: World) -> None:
    world, client = kit_world, kit_world.integration.client
    paying, churned = unique_email("paying"), unique_email("churned")
    for email, tag in ((paying, "customer"), (churned, "churned")):
        await client.upsert_subscriber(email, None)
        await client.add_tag(tag, email)
    swept = await world.sweep()
    assert sorted(f.email for f in swept.findings) == sorted([paying, churned])
    assert swept.invariants["unknown_with_access"] == 1  # `customer` is what paying grants
