"""The Kit sync against the sandbox's Kit: upsert, tag, swap tags on cancel, and its errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from libs.contracts import Lifecycle
from libs.runtime.errors import PermanentProviderError, ProviderAuthError, TransientProviderError
from services.convertkit_sync.client import KitClient
from services.convertkit_sync.integration import ConvertkitIntegration
from tests.conftest import unique_email
from tests.events import customer_event

from .conftest import add_fault, kit_state

UPSERT = "POST /v4/subscribers"
CREATE_TAG = "POST /v4/tags"
TAG = "POST /v4/tags/{tag_id}/subscribers"
UNTAG = "DELETE /v4/tags/{tag_id}/subscribers"


def subscriber(state: dict[str, Any], email: str) -> dict[str, Any]:
    found = [s for s in state["subscribers"] if s["email_address"].lower() == email.lower()]
    assert len(found) == 1, found
    return dict(found[0])


async def test_first_sync_creates_the_subscriber_and_the_tag(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    email = unique_email()
    actions = await kit.sync(customer_event(email, Lifecycle.PAID), dry_run=False)
    assert actions == ["upsert_subscriber", "add_tag:customer"]
    state = await kit_state(sandbox)
    held = subscriber(state, email)
    assert held["tags"] == ["customer"]
    assert held["first_name"] == "Jane"
    assert held["state"] == "active"
    assert state["requests"] == {UPSERT: 1, CREATE_TAG: 1, TAG: 1}


async def test_a_second_sync_makes_no_writes(
    make_kit: Callable[..., ConvertkitIntegration], sandbox: FastAPI
) -> None:
    email = unique_email()
    await make_kit().sync(customer_event(email, Lifecycle.PAID), dry_run=False)
    before = (await kit_state(sandbox))["requests"]
    # A fresh process (no cached tag ids) and the next lifecycle with the same tags.
    actions = await make_kit().sync(
        customer_event(email, Lifecycle.ACTIVE, version=2), dry_run=False
    )
    assert actions == []
    assert (await kit_state(sandbox))["requests"] == before


async def test_cancel_swaps_customer_for_churned_and_never_unsubscribes(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    email = unique_email()
    await kit.sync(customer_event(email, Lifecycle.PAID), dry_run=False)
    actions = await kit.sync(customer_event(email, Lifecycle.CANCELED, version=2), dry_run=False)
    assert actions == ["add_tag:churned", "remove_tag:customer"]
    state = await kit_state(sandbox)
    held = subscriber(state, email)
    assert held["tags"] == ["churned"]
    assert held["state"] == "active"  # still subscribed: only the tags changed
    assert not any("unsubscribe" in key for key in state["requests"])
    # Paying again swaps back.
    again = await kit.sync(customer_event(email, Lifecycle.PAID, version=3), dry_run=False)
    assert again == ["add_tag:customer", "remove_tag:churned"]
    assert subscriber(await kit_state(sandbox), email)["tags"] == ["customer"]


async def test_an_existing_tag_is_found_whatever_its_case(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    tag_id = await kit.client.tag_id("Customer", create=True)  # someone made it by hand
    other = await KitClient(kit.client.http.client).tag_id("customer", create=False)
    assert other == tag_id
    await kit.sync(customer_event(unique_email(), Lifecycle.PAID), dry_run=False)
    assert (await kit_state(sandbox))["requests"][CREATE_TAG] == 1


async def test_dry_run_plans_and_writes_nothing(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    actions = await kit.sync(customer_event(unique_email(), Lifecycle.PAID), dry_run=True)
    assert actions == ["upsert_subscriber", "add_tag:customer"]
    assert (await kit_state(sandbox))["requests"] == {}


class LaggingLookup(KitClient):
    """Kit's list by email lags writes by up to minutes: it may not find a fresh subscriber."""

    async def find_subscriber(self, email: str) -> int | None:
        return None


async def test_a_lagging_lookup_still_removes_the_tags_to_remove(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    email = unique_email()
    await kit.sync(customer_event(email, Lifecycle.PAID), dry_run=False)
    kit.client = LaggingLookup(kit.client.http.client)
    actions = await kit.sync(customer_event(email, Lifecycle.CANCELED, version=2), dry_run=False)
    # The upsert answers 200 (it existed), so the rest is planned from its tags, read by id.
    assert actions == ["upsert_subscriber", "add_tag:churned", "remove_tag:customer"]
    assert subscriber(await kit_state(sandbox), email)["tags"] == ["churned"]


async def test_removing_a_tag_the_subscriber_lacks_counts_as_done(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    email = unique_email()
    await kit.sync(customer_event(email, Lifecycle.CANCELED), dry_run=False)
    await kit.client.tag_id("customer", create=True)
    await kit.client.remove_tag("customer", email)  # Kit answers 404: no such tagging
    assert (await kit_state(sandbox))["requests"][UNTAG] == 1


async def test_a_wrong_key_is_a_permanent_auth_error(
    make_kit: Callable[..., ConvertkitIntegration],
) -> None:
    kit = make_kit(kit_api_key="wrong-key")
    with pytest.raises(ProviderAuthError) as caught:
        await kit.sync(customer_event(unique_email()), dry_run=False)
    assert caught.value.status == 401
    assert not caught.value.retryable
    assert caught.value.code == "auth"
    assert caught.value.message == "The access token is invalid"


async def test_429_is_retryable_and_kit_sends_no_retry_after(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    await add_fault(sandbox, status=429, count=1)
    with pytest.raises(TransientProviderError) as caught:
        await kit.sync(customer_event(unique_email()), dry_run=False)
    assert caught.value.status == 429
    assert caught.value.retry_after is None  # the worker waits out Kit's 60 s window instead
    assert caught.value.message.strip() == "Retry later"  # plain text, parsed without a crash


async def test_a_retry_after_header_is_honoured_when_present(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    await add_fault(sandbox, status=429, retry_after=7, count=1)
    with pytest.raises(TransientProviderError) as caught:
        await kit.sync(customer_event(unique_email()), dry_run=False)
    assert caught.value.retry_after == 7.0


async def test_a_failed_write_names_its_action_and_a_rerun_finishes(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    email = unique_email()
    await add_fault(sandbox, status=503, count=1, method="POST", path="/v4/tags/*/subscribers")
    with pytest.raises(TransientProviderError) as caught:
        await kit.sync(customer_event(email), dry_run=False)
    assert caught.value.action == "add_tag:customer"
    assert await kit.sync(customer_event(email), dry_run=False) == ["add_tag:customer"]
    assert subscriber(await kit_state(sandbox), email)["tags"] == ["customer"]


async def test_tagging_with_a_tag_deleted_in_kit_fails_and_forgets_the_id(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    email = unique_email()
    await kit.sync(customer_event(email, Lifecycle.CANCELED), dry_run=False)
    await kit.client.tag_id("customer", create=True)
    sandbox.state.sandbox.kit.tags.clear()  # deleted in Kit's UI after we cached the ids
    with pytest.raises(PermanentProviderError) as caught:
        await kit.client.add_tag("customer", email)
    assert (caught.value.status, caught.value.code) == (404, "not_found")
    await kit.client.add_tag("customer", email)  # resolved (and recreated) again


# -- an email change -------------------------------------------------------------------------------

CHANGE_EMAIL = "PUT /v4/subscribers/{id}"
UNTAG_BY_ID = "DELETE /v4/tags/{tag_id}/subscribers/{id}"


def subscribers(state: dict[str, Any], *emails: str) -> list[tuple[str, list[str]]]:
    wanted = {e.lower() for e in emails}
    return sorted(
        (s["email_address"].lower(), sorted(s["tags"]))
        for s in state["subscribers"]
        if s["email_address"].lower() in wanted
    )


async def test_an_email_change_moves_the_subscriber_in_place(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    old, new = unique_email("old"), unique_email("new")
    await kit.sync(customer_event(old, Lifecycle.PAID), dry_run=False)
    old_id = subscriber(await kit_state(sandbox), old)["id"]

    moved = customer_event(new, Lifecycle.PAID, version=2, previous_emails=(old,))
    assert await kit.sync(moved, dry_run=False) == ["change_email"]
    state = await kit_state(sandbox)
    assert subscribers(state, old, new) == [(new, ["customer"])]
    assert subscriber(state, new)["id"] == old_id  # the same subscriber: consent and history kept
    assert state["requests"][CHANGE_EMAIL] == 1
    assert state["requests"][UPSERT] == 1  # only the first purchase's

    # The next event finds the subscriber under the new address and has nothing to do.
    again = customer_event(new, Lifecycle.ACTIVE, version=3, previous_emails=(old,))
    assert await kit.sync(again, dry_run=False) == []


async def test_a_lagging_lookup_after_a_move_moves_again_harmlessly(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    old, new = unique_email("old"), unique_email("new")
    await kit.sync(customer_event(old, Lifecycle.PAID), dry_run=False)
    await kit.sync(customer_event(new, version=2, previous_emails=(old,)), dry_run=False)
    old_id = subscriber(await kit_state(sandbox), new)["id"]

    class StaleList(KitClient):
        """Kit's list still shows the subscriber under its old address (up to minutes)."""

        async def find_subscriber(self, email: str) -> int | None:
            return old_id if email == old else None

    kit.client = StaleList(kit.client.http.client)
    canceled = customer_event(new, Lifecycle.CANCELED, version=3, previous_emails=(old,))
    actions = await kit.sync(canceled, dry_run=False)
    assert actions == ["change_email", "add_tag:churned", "remove_tag:customer"]
    assert subscribers(await kit_state(sandbox), old, new) == [(new, ["churned"])]


async def test_when_the_new_address_has_its_own_subscriber_the_old_one_is_untagged(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    old, new = unique_email("old"), unique_email("new")
    await kit.sync(customer_event(old, Lifecycle.PAID), dry_run=False)
    await kit.client.upsert_subscriber(new, None)  # e.g. signed up to the newsletter before
    new_id = subscriber(await kit_state(sandbox), new)["id"]
    moved = customer_event(new, Lifecycle.PAID, version=2, previous_emails=(old,))
    assert await kit.sync(moved, dry_run=False) == [
        "add_tag:customer",
        "remove_previous_tag:customer",
    ]
    state = await kit_state(sandbox)
    assert subscribers(state, old, new) == [(new, ["customer"]), (old, [])]
    assert subscriber(state, new)["id"] == new_id
    assert state["requests"][UNTAG_BY_ID] == 1


async def test_a_move_refused_as_taken_falls_back_to_the_new_subscriber(
    kit: ConvertkitIntegration, sandbox: FastAPI
) -> None:
    old, new = unique_email("old"), unique_email("new")
    await kit.sync(customer_event(old, Lifecycle.PAID), dry_run=False)
    await kit.client.upsert_subscriber(new, None)

    class MissesTheNewOne(KitClient):
        """The list has not caught up with the subscriber just created at the new address."""

        async def find_subscriber(self, email: str) -> int | None:
            return None if email == new else await super().find_subscriber(email)

    kit.client = MissesTheNewOne(kit.client.http.client)
    moved = customer_event(new, Lifecycle.PAID, version=2, previous_emails=(old,))
    assert await kit.sync(moved, dry_run=False) == [
        "change_email",  # refused as taken: the subscriber at the new address is upserted
        "add_tag:customer",
        "remove_previous_tag:customer",
    ]
    assert subscribers(await kit_state(sandbox), old, new) == [(new, ["customer"]), (old, [])]
