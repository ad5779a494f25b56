"""The providers' lists lag their writes (Kit's by ~30 s, up to ~5 min; HubSpot's search by
seconds), so a sweep right after the worker wrote a customer reads a page without that write. The
settle window (`reconcile_settle_seconds`, `libs/reconcile/judge.py`) leaves such a customer for
the next sweep; with no window the lag is reported as drift that is not there (phantom drift).
A lag of half a second keeps the tests fast; the sandbox's clock is the wall clock, like the
sweep's and the worker record's."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from libs.contracts import Lifecycle
from libs.reconcile.records import Finding
from tests.conftest import unique_email
from tests.integration.in_process import control

from .conftest import World, make_world

LAG = 0.5


async def sweeps_around_a_fresh_write(world: World, customer_id: str) -> tuple[Finding, ...]:
    """A customer just written: a settle window covering the lag skips it, no window finds
    phantom drift in it (returned), and once the lag has passed there is none."""
    await world.customer(customer_id, unique_email(customer_id), Lifecycle.ACTIVE)

    settled = await world.sweep(dry_run=True)
    assert settled.skipped_in_flight == 1
    assert settled.findings == ()

    world.settings = world.settings.model_copy(update={"reconcile_settle_seconds": 0})
    phantom = await world.sweep(dry_run=True)
    assert phantom.skipped_in_flight == 0
    assert [f.customer_id for f in phantom.findings] == [customer_id]

    await asyncio.sleep(LAG)  # the list has caught up with the write
    caught_up = await world.sweep(dry_run=True)
    assert caught_up.findings == ()
    return phantom.findings


async def test_the_settle_window_keeps_kits_list_lag_from_looking_like_drift(
    sandbox: FastAPI,
) -> None:
    await control(sandbox, "PUT", "/_sandbox/consistency", json={"kit_list_lag_s": LAG})
    # As in production (300 s against Kit's ~5 min p99), the window covers the lag.
    world = await make_world(sandbox, "convertkit", reconcile_settle_seconds=60 * LAG)
    try:
        phantom = await sweeps_around_a_fresh_write(world, "cust_kit_lag")
        # The `customer` tag the worker has just added, not yet in the tag's list: "missing".
        assert [(f.kinds, f.actions) for f in phantom] == [(("stale_tag",), ("add_tag:customer",))]
    finally:
        await world.integration.aclose()


async def test_the_settle_window_keeps_hubspots_search_lag_from_looking_like_drift(
    sandbox: FastAPI,
) -> None:
    await control(sandbox, "PUT", "/_sandbox/consistency", json={"hubspot_search_lag_s": LAG})
    world = await make_world(sandbox, "crm", reconcile_settle_seconds=60 * LAG)
    try:
        phantom = await sweeps_around_a_fresh_write(world, "cust_crm_lag")
        # The contact, not yet in the search index, looks as if it had none of our properties.
        upsert = "upsert_contact:lifecyclestage,switchboard_customer_id,switchboard_lifecycle"
        assert [(f.kinds, f.actions) for f in phantom] == [(("wrong_stage",), (upsert,))]
    finally:
        await world.integration.aclose()
