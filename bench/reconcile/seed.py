"""Seeding, not measured: the in-process sandbox's stores and FerretDB hold N customers as a
synced worker would have left them (the provider records, ingest's canonical customers, each
worker's `<integration>_applied` record with its ledger), then a person drifts a few of them by
hand through the providers' HTTP APIs.

The provider records go straight into the sandbox's store objects (`app.state.sandbox`), so
seeding spends none of the rate limit the sweep is measured against. Each record is what the
integration's own desired state says (`integration.desired(event)`), and each ledger is the
integration's `ledger_model.from_current(desired, current)` of what was seeded: the records and
the ledgers agree by construction, and only the hand-made drift differs."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Final

from pymongo.asynchronous.database import AsyncDatabase

from libs.contracts import CustomerEvent
from libs.runtime.clock import now
from libs.runtime.dedupe import Applied, AppliedCodec
from libs.runtime.plans import names
from libs.runtime.repository import REVISION
from sandbox.state import Sandbox
from services.circle_sync.plan import Current as CircleCurrent
from services.convertkit_sync.plan import Current as KitCurrent
from services.crm_sync.plan import Current as CrmCurrent
from services.ingest.canonical import CanonicalCustomer
from services.ingest.canonical_states import known_customer
from services.ingest.customers import CustomerCodec

from .population import BenchCustomer

Document = dict[str, Any]
Log = Callable[[str], None]

#: documents per insert_many (FerretDB on SQLite is slow with huge batches)
CHUNK: Final = 500
#: the worker wrote its records this long before the sweep (well past any settle window)
WRITTEN_AGO: Final = timedelta(days=1)


def canonical(person: BenchCustomer) -> CanonicalCustomer:
    return CanonicalCustomer(
        customer_id=person.customer_id,
        email=person.email,
        name=person.name,
        lifecycle=person.lifecycle,
        version=person.version,
        version_at=now() - WRITTEN_AGO,
    )


def event_of(person: BenchCustomer) -> CustomerEvent:
    event = known_customer(canonical(person)).event
    assert event is not None  # version >= 1: published
    return event


def seed_providers(
    sandbox: Sandbox, integrations: dict[str, Any], people: Sequence[BenchCustomer]
) -> dict[str, int]:
    """Every customer in Circle, Kit and HubSpot as its integration's desired state has it;
    returns the Kit subscriber id of each customer (its ledger keys on it)."""
    circle, kit, hubspot = sandbox.circle, sandbox.kit, sandbox.hubspot
    groups = {g.name: g.id for g in circle.groups.values()}
    tags = {}
    for tag in sorted(names(integrations["convertkit"].mapping.everything())):
        created, _ = kit.create_tag(tag)
        tags[tag] = created.id
    kit_ids: dict[str, int] = {}
    for person in people:
        event = event_of(person)
        wanted = integrations["circle"].desired(event)
        circle.create_member(person.email, person.name, skip_invitation=True)
        for group in sorted(wanted.access_groups):
            circle.add_to_group(groups[group], person.email)
        wanted = integrations["convertkit"].desired(event)
        subscriber, _ = kit.upsert(person.email, wanted.first_name, "active", {})
        for tag in sorted(wanted.tags):
            kit.apply_tag(tags[tag], subscriber_id=subscriber.id)
        kit_ids[person.customer_id] = subscriber.id
        wanted = integrations["crm"].desired(event)
        hubspot.create({**wanted.properties, "email": person.email})
    return kit_ids


def ledger(name: str, integration: Any, event: CustomerEvent, kit_id: int) -> dict[str, Any]:
    """What the worker's ledger holds after syncing `event`: a read of what was seeded."""
    desired = integration.desired(event)
    current: Any
    if name == "circle":
        current = CircleCurrent(True, frozenset(desired.access_groups))
    elif name == "convertkit":
        current = KitCurrent(kit_id, frozenset(desired.tags))
    else:
        current = CrmCurrent(exists=True, properties=dict(desired.properties))
    state: dict[str, Any] = integration.ledger_model.from_current(desired, current).model_dump(
        mode="json"
    )
    return state


async def seed_ferret(
    db: AsyncDatabase[Document],
    integrations: dict[str, Any],
    people: Sequence[BenchCustomer],
    kit_ids: dict[str, int],
    log: Log,
) -> None:
    """Ingest's `customers` and each worker's `<integration>_applied`, in chunks."""
    started, written_at = time.monotonic(), now() - WRITTEN_AGO
    customers = CustomerCodec()
    docs = [
        {"_id": p.customer_id, **customers.to_document(canonical(p)), REVISION: 1} for p in people
    ]
    await _insert(db["customers"], docs, "customers", log)
    applied = AppliedCodec()
    for name, integration in integrations.items():
        docs = []
        for p in people:
            event = event_of(p)
            record = Applied(
                version=p.version,
                desired_key=integration.desired_key(event),
                recent={event.event_id: "synced"},
                revision=1,
                ledger=ledger(name, integration, event, kit_ids[p.customer_id]),
            )
            fields = applied.to_document(record)
            docs.append({"_id": p.customer_id, **fields, REVISION: 1, "at": written_at})
        await _insert(db[f"{name}_applied"], docs, f"{name}_applied", log)
    log(f"  FerretDB seeded in {time.monotonic() - started:.1f} s")


async def _insert(collection: Any, docs: list[Document], label: str, log: Log) -> None:
    started = time.monotonic()
    for start in range(0, len(docs), CHUNK):
        await collection.insert_many(docs[start : start + CHUNK], ordered=False)
    log(f"  {label}: {len(docs)} documents in {time.monotonic() - started:.1f} s")
