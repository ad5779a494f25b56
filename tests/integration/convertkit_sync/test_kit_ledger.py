"""Kit against its ledger: a subscriber never seen is upserted, not looked up (Kit's lists lag);
an upsert that finds one already there reads its tags by id; one Kit does not have is upserted
again."""

from __future__ import annotations

from fastapi import FastAPI

from libs.contracts import Lifecycle
from libs.runtime.ledger import Ledger
from services.convertkit_sync.integration import ConvertkitIntegration
from tests.conftest import unique_email
from tests.events import customer_event
from tests.integration.in_process import control

from .conftest import kit_state
from .test_kit_sync import subscriber, subscribers


async def warm(kit: ConvertkitIntegration) -> None:
    """Tag ids are listed once per process, `churned` created once: done before counting."""
    email, ledger = unique_email("warm"), Ledger()
    await kit.sync(customer_event(email), dry_run=False, ledger=ledger)
    await kit.sync(
        customer_event(email, Lifecycle.CANCELED, version=2), dry_run=False, ledger=ledger
    )


async def test_a_purchase_costs_an_upsert_and_a_tag_and_a_refund_two_tag_calls(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    await warm(kit)
    email, ledger = unique_email(), Ledger()
    before = (await kit_state(sandbox))["calls"]
    assert await kit.sync(customer_event(email), dry_run=False, ledger=ledger) == [
        "upsert_subscriber",
        "add_tag:customer",
    ]
    after = (await kit_state(sandbox))["calls"]
    assert after - before == 2
    canceled = customer_event(email, Lifecycle.CANCELED, version=2)
    assert await kit.sync(canceled, dry_run=False, ledger=ledger) == [
        "add_tag:churned",
        "remove_tag:customer",
    ]
    assert (await kit_state(sandbox))["calls"] - after == 2
    assert sorted(subscriber(await kit_state(sandbox), email)["tags"]) == ["churned"]
    [(_, held)] = ledger.state["subscribers"].items()
    assert held == {"email": email.casefold(), "tags": ["churned"]}


async def test_an_existing_subscriber_has_its_tags_read_by_id_and_stale_ones_removed(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    await warm(kit)
    email = unique_email()
    await kit.client.upsert_subscriber(email, None)  # on the newsletter already
    await kit.client.add_tag("churned", email)  # a customer who left once before
    reads = dict((await kit_state(sandbox))["reads"])
    actions = await kit.sync(customer_event(email), dry_run=False, ledger=Ledger())
    assert actions == ["upsert_subscriber", "add_tag:customer", "remove_tag:churned"]
    now = (await kit_state(sandbox))["reads"]
    assert {k: v - reads.get(k, 0) for k, v in now.items() if v != reads.get(k, 0)} == {
        "GET /v4/subscribers/{subscriber_id}/tags": 1  # by id: consistent, unlike the lagging list
    }
    assert sorted(subscriber(await kit_state(sandbox), email)["tags"]) == ["customer"]


async def test_a_subscriber_kit_does_not_have_is_upserted_again(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    email = unique_email()
    # the ledger knows a subscriber Kit does not have (e.g. a store restored from elsewhere)
    ledger = Ledger({"subscribers": {"999999999": {"email": email.casefold(), "tags": []}}})
    actions = await kit.sync(customer_event(email, version=2), dry_run=False, ledger=ledger)
    assert actions == ["add_tag:customer", "upsert_subscriber", "add_tag:customer"]
    assert sorted(subscriber(await kit_state(sandbox), email)["tags"]) == ["customer"]
    assert "999999999" not in ledger.state["subscribers"]


async def test_an_untrusted_ledger_finds_its_subscribers_by_id_while_kits_lists_lag(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    # Kit's lists lag writes (30 s at the median): a step that cannot believe its ledger (an
    # interrupted step left the record unsettled) must not take a miss there for absence
    await warm(kit)
    await control(sandbox, "PUT", "/_sandbox/consistency", json={"kit_list_lag_s": 600})
    old, new = unique_email("old"), unique_email("new")
    ledger = Ledger()
    await kit.sync(customer_event(old), dry_run=False, ledger=ledger)
    # the address changes; the step reads Kit first, with the ledger's ids as hints only
    moved = customer_event(new, version=2, previous_emails=(old,))
    untrusted = Ledger(dict(ledger.state), trusted=False)
    actions = await kit.sync(moved, dry_run=False, ledger=untrusted)
    assert "upsert_subscriber" not in actions, actions  # no second subscriber at the new address
    state = await kit_state(sandbox)
    assert subscribers(state, old, new) == [(new.casefold(), ["customer"])]
