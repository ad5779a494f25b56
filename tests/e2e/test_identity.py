"""Who an event is about, on the real stack: an email change, events that carry no customer or no
email (resolved from what ingest knows or from the Stripe API the sandbox answers), and the same
address written in another case.

Ingest may apply a webhook after answering 200, so every effect is polled for with `wait_for`.
The canonical record is read from ingest's MongoDB (the status API does not show the internal
customer id) and the published `CustomerEvent`s from `customer.events.v1`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import MongoClient
from pymongo.collection import Collection

from libs.contracts import CUSTOMER_EVENTS, TOPIC_PARTITIONS
from tests.conftest import unique_email

from .conftest import System, wait_for
from .test_steps_and_order import post

pytestmark = pytest.mark.e2e

SECRET = "whsec_local_dev_only"
APP = {"Authorization": "Bearer local-app-token"}
HAS_ACCESS = ("paid", "active")

Doc = dict[str, Any]


# --- helpers ---------------------------------------------------------------------------------


def status(system: System, email: str) -> httpx.Response:
    return httpx.get(
        f"{system.ingest}/v1/customers/status", params={"email": email}, headers=APP, timeout=10
    )


def status_of(system: System, email: str) -> Doc | None:
    response = status(system, email)
    return dict(response.json()) if response.status_code == 200 else None


def lifecycle(system: System, email: str) -> str | None:
    return (status_of(system, email) or {}).get("lifecycle")


def trigger(system: System, scenario: str, **fields: Any) -> Doc:
    sent = system.trigger(scenario, **fields)
    if fields.get("deliver", True):
        assert sent["ingest"]["status_code"] == 200, sent
    return sent


def deliver(system: System, event: Doc) -> None:
    """Deliver an event the sandbox built earlier but held back (`deliver=False`)."""
    response = post(system, event)
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def customers(system: System, mongodb_uri: str) -> Iterator[Collection[Doc]]:
    """Ingest's canonical customer records (the database the stack under test uses)."""
    client: MongoClient[Doc] = MongoClient(mongodb_uri, tz_aware=True)
    try:
        yield client[system.env["SWITCHBOARD_MONGODB_DATABASE"]]["customers"]
    finally:
        client.close()


def applied(customers: Collection[Doc], customer_id: str, event_id: str) -> bool:
    """Whether ingest has applied this event to the customer (it keeps their recent event ids)."""
    record = customers.find_one({"_id": customer_id}) or {}
    return event_id in record.get("recent_event_ids", [])


def records_of(customers: Collection[Doc], stripe_customer_id: str) -> list[Doc]:
    return list(customers.find({"stripe_customer_id": stripe_customer_id}))


def the_record(customers: Collection[Doc], stripe_customer_id: str) -> Doc:
    """The one canonical record of a Stripe customer, once ingest has written it."""
    found: list[Doc] = wait_for(
        lambda: records_of(customers, stripe_customer_id),
        what=f"a canonical record for {stripe_customer_id}",
    )
    assert len(found) == 1, found
    return found[0]


async def _published(bootstrap: str, event_ids: set[str]) -> dict[str, Doc]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: dict[str, Doc] = {}
    try:
        partitions = [
            TopicPartition(CUSTOMER_EVENTS, p) for p in range(TOPIC_PARTITIONS[CUSTOMER_EVENTS])
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    message = json.loads(record.value)
                    if message["event_id"] in event_ids:
                        found[message["event_id"]] = message
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return found


def published(bootstrap: str, *event_ids: str) -> dict[str, Doc]:
    """The `CustomerEvent` published for each of these Stripe event ids, once all are there."""
    wanted = set(event_ids)

    def all_there() -> dict[str, Doc] | None:
        found = asyncio.run(_published(bootstrap, wanted))
        return found if set(found) == wanted else None

    result: dict[str, Doc] = wait_for(all_there, what=f"{sorted(wanted)} on {CUSTOMER_EVENTS}")
    return result


def circle_members(system: System, *emails: str) -> list[Doc]:
    wanted = {e.lower() for e in emails}
    return [m for m in system.state()["circle"]["members"] if m["email"].lower() in wanted]


# --- (a) an email change ---------------------------------------------------------------------


def test_an_email_change_moves_the_customer_to_the_new_address(
    system: System, customers: Collection[Doc], kafka_bootstrap: str
) -> None:
    old, new = unique_email("before"), unique_email("after")
    bought = trigger(system, "purchase", email=old)
    cus = bought["customer_id"]
    wait_for(lambda: lifecycle(system, old) in HAS_ACCESS, what="the purchase to be applied")
    record = the_record(customers, cus)

    changed = trigger(system, "email_change", customer=cus, new_email=new)
    assert changed["event_type"] == "customer.updated"

    after = wait_for(lambda: status_of(system, new), what="the status API to know the new address")
    assert after["lifecycle"] in HAS_ACCESS  # the same customer, not a new lead
    wait_for(lambda: status(system, old).status_code == 404, what="the old address to be gone")

    records = records_of(customers, cus)
    assert [(r["_id"], r["email"]) for r in records] == [(record["_id"], new)]
    assert customers.count_documents({"email": {"$in": [old, new]}}) == 1

    messages = published(kafka_bootstrap, bought["event_id"], changed["event_id"])
    purchase, change = messages[bought["event_id"]], messages[changed["event_id"]]
    assert change["customer_id"] == purchase["customer_id"] == record["_id"]
    assert (purchase["email"], change["email"]) == (old, new)
    assert change["lifecycle"] in HAS_ACCESS
    assert change["version"] > purchase["version"]


def test_an_email_change_leaves_one_circle_member_with_access(system: System) -> None:
    old, new = unique_email("circle-before"), unique_email("circle-after")
    cus = trigger(system, "purchase", email=old)["customer_id"]
    wait_for(
        lambda: any("Members" in m["access_groups"] for m in circle_members(system, old)),
        what="the Circle grant for the old address",
    )
    trigger(system, "email_change", customer=cus, new_email=new)
    wait_for(
        lambda: any(
            m["email"].lower() == new and "Members" in m["access_groups"]
            for m in circle_members(system, old, new)
        ),
        what="the new address to hold the Members group",
    )
    wait_for(
        lambda: not any(m["access_groups"] for m in circle_members(system, old)),
        what="the old address to lose every access group",
    )
    time.sleep(2)  # let any further (wrong or right) Circle call land
    members = circle_members(system, old, new)
    # Circle's Admin API cannot change a member's email (no `email` on PUT community_members/{id}),
    # so the member at the old address stays, holding nothing; only the new address has access.
    with_access = [(m["email"].lower(), m["access_groups"]) for m in members if m["access_groups"]]
    assert with_access == [(new, ["Members"])]
    assert [m["email"].lower() for m in members if not m["access_groups"]] == [old]


def kit_subscribers(system: System, *emails: str) -> list[Doc]:
    wanted = {e.lower() for e in emails}
    return [s for s in system.state()["kit"]["subscribers"] if s["email_address"].lower() in wanted]


def hubspot_contacts(system: System, *emails: str) -> list[Doc]:
    wanted = {e.lower() for e in emails}
    return [
        c
        for c in system.state()["hubspot"]["contacts"]
        if c["properties"].get("email", "").lower() in wanted
    ]


def test_an_email_change_moves_the_kit_subscriber_and_the_hubspot_contact(
    system: System,
) -> None:
    old, new = unique_email("move-before"), unique_email("move-after")
    cus = trigger(system, "purchase", email=old)["customer_id"]
    wait_for(
        lambda: [s["tags"] for s in kit_subscribers(system, old)] == [["customer"]],
        what="the Kit tag for the old address",
    )
    wait_for(lambda: hubspot_contacts(system, old), what="the HubSpot contact for the old address")
    subscriber_id = kit_subscribers(system, old)[0]["id"]
    contact_id = hubspot_contacts(system, old)[0]["id"]

    trigger(system, "email_change", customer=cus, new_email=new)
    wait_for(
        lambda: (
            [(s["id"], s["email_address"].lower()) for s in kit_subscribers(system, old, new)]
            == [(subscriber_id, new)]
        ),
        what="the Kit subscriber to be moved to the new address",
    )
    wait_for(
        lambda: (
            [
                (c["id"], c["properties"]["email"].lower())
                for c in hubspot_contacts(system, old, new)
            ]
            == [(contact_id, new)]
        ),
        what="the HubSpot contact to be moved to the new address",
    )
    time.sleep(2)  # let any further (wrong or right) call land
    assert [s["tags"] for s in kit_subscribers(system, old, new)] == [["customer"]]
    contacts = hubspot_contacts(system, old, new)
    assert len(contacts) == 1
    assert contacts[0]["properties"]["switchboard_customer_id"]


# --- (b) a dispute names no customer ---------------------------------------------------------


def test_a_dispute_of_a_known_customer_ends_their_access(
    system: System, customers: Collection[Doc]
) -> None:
    email, bystander = unique_email("dispute"), unique_email("bystander")
    cus = trigger(system, "purchase", email=email)["customer_id"]
    trigger(system, "purchase", email=bystander)
    wait_for(lambda: lifecycle(system, email) in HAS_ACCESS, what="the purchase to be applied")
    wait_for(lambda: lifecycle(system, bystander) in HAS_ACCESS, what="the other purchase")

    disputed = trigger(system, "dispute", customer=cus)
    assert disputed["event"]["data"]["object"].get("customer") is None  # only the charge

    wait_for(
        lambda: lifecycle(system, email) == "canceled", what="the disputed customer to lose access"
    )
    record = the_record(customers, cus)
    assert disputed["charge_id"] in record["payment_ids"]
    assert lifecycle(system, bystander) in HAS_ACCESS


def test_a_dispute_of_a_customer_ingest_never_saw_is_resolved_through_the_stripe_api(
    system: System, customers: Collection[Doc]
) -> None:
    email, at = unique_email("unseen-dispute"), int(time.time())
    # The purchase exists at Stripe (the sandbox's API answers for its charge and customer), but
    # its webhook never reached ingest.
    held = trigger(system, "purchase", email=email, deliver=False, created=at - 120)
    cus = held["customer_id"]
    assert status(system, email).status_code == 404

    disputed = trigger(system, "dispute", customer=cus, created=at - 60)
    assert disputed["charge_id"] == held["charge_id"]

    body = wait_for(lambda: status_of(system, email), what="the customer behind the charge")
    assert body["lifecycle"] not in HAS_ACCESS  # a chargeback grants nothing
    record = the_record(customers, cus)
    assert record["email"] == email
    assert held["charge_id"] in record["payment_ids"]


def test_a_purchase_delivered_after_its_own_chargeback_grants_no_access(
    system: System, customers: Collection[Doc]
) -> None:
    email, at = unique_email("late-purchase"), int(time.time())
    held = trigger(system, "purchase", email=email, deliver=False, created=at - 120)
    disputed = trigger(system, "dispute", customer=held["customer_id"], created=at - 60)
    record = the_record(customers, held["customer_id"])
    wait_for(
        lambda: applied(customers, record["_id"], disputed["event_id"]),
        what="the dispute to be applied",
    )

    deliver(system, held["event"])  # Stripe delivers in any order: the purchase comes last

    wait_for(
        lambda: applied(customers, record["_id"], held["event_id"]),
        what="the late purchase to be applied",
    )
    assert lifecycle(system, email) not in HAS_ACCESS


# --- (c) a subscription event carries no email -----------------------------------------------


def test_a_subscription_event_of_a_customer_ingest_never_saw_gets_the_email_from_stripe(
    system: System, customers: Collection[Doc], kafka_bootstrap: str
) -> None:
    email, at = unique_email("unseen-sub"), int(time.time())
    held = trigger(system, "purchase", email=email, deliver=False, created=at - 120)
    cus = held["customer_id"]

    updated = trigger(system, "update", customer=cus, status="active")
    assert updated["event_type"] == "customer.subscription.updated"
    assert "email" not in updated["event"]["data"]["object"]

    wait_for(
        lambda: lifecycle(system, email) in HAS_ACCESS,
        what="the subscriber to be known by the email Stripe has for them",
    )
    record = the_record(customers, cus)
    assert record["email"] == email
    assert updated["subscription_id"] in record["subscription_ids"]
    message = published(kafka_bootstrap, updated["event_id"])[updated["event_id"]]
    assert (message["customer_id"], message["email"]) == (record["_id"], email)


def test_a_subscription_event_of_a_known_customer_moves_that_customer(system: System) -> None:
    email = unique_email("known-sub")
    cus = trigger(system, "purchase", email=email)["customer_id"]
    wait_for(lambda: lifecycle(system, email) in HAS_ACCESS, what="the purchase to be applied")

    canceled = trigger(system, "cancel", customer=cus)
    assert "email" not in canceled["event"]["data"]["object"]

    wait_for(
        lambda: lifecycle(system, email) == "canceled",
        what="the canceled subscription to end access",
    )


# --- (d) the same address in another case ----------------------------------------------------


def test_an_address_in_another_case_is_the_same_customer(
    system: System, customers: Collection[Doc], kafka_bootstrap: str
) -> None:
    lower = unique_email("jane")
    upper = lower.upper()
    first = trigger(system, "purchase", email=upper)
    wait_for(lambda: status_of(system, lower), what="the customer found by the lowercase address")
    assert status(system, upper).status_code == 200

    # The same person checks out again and Stripe makes a second customer, typed in lowercase.
    second = trigger(system, "purchase", email=lower)
    assert second["customer_id"] != first["customer_id"]

    customer_id = published(kafka_bootstrap, first["event_id"])[first["event_id"]]["customer_id"]
    # Nothing changed for downstream systems, so nothing is published: the record tells.
    wait_for(
        lambda: applied(customers, customer_id, second["event_id"]),
        what="the second purchase to be applied to the same customer",
    )
    record = customers.find_one({"_id": customer_id}) or {}
    assert second["subscription_id"] in record["subscription_ids"]
    assert customers.count_documents({"email": {"$in": [upper, lower]}}) == 1
    wait_for(
        lambda: any("Members" in m["access_groups"] for m in circle_members(system, lower)),
        what="the Circle grant",
    )
    time.sleep(2)  # let a wrong second member show up
    assert len(circle_members(system, lower)) == 1


def test_a_change_of_case_only_keeps_the_customer_findable(
    system: System, customers: Collection[Doc]
) -> None:
    lower = unique_email("recase")
    upper = lower.upper()
    cus = trigger(system, "purchase", email=lower)["customer_id"]
    wait_for(lambda: status_of(system, lower), what="the customer")
    record = the_record(customers, cus)

    changed = trigger(system, "email_change", customer=cus, new_email=upper)
    wait_for(
        lambda: applied(customers, record["_id"], changed["event_id"]),
        what="the email change to be applied",
    )

    for address in (lower, upper):
        body = status_of(system, address)
        assert body is not None, address
        assert body["lifecycle"] in HAS_ACCESS
    assert len(records_of(customers, cus)) == 1
