"""Ingest's read API for reconcile sweeps: every canonical customer, in pages, as
the desired state a worker would be sent (`libs.reconcile.ports.CanonicalStates`). Ingest owns
the `customers` layout; this module, like `read_model.py`, is the only reader outside ingest's
writes that knows it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from libs.contracts import Source
from libs.reconcile.ports import KnownCustomer
from libs.runtime.clock import now

from .canonical import CanonicalCustomer, customer_event

Document = dict[str, Any]

#: the fields a sweep needs (a customer's history and recent ids stay on the server)
_FIELDS = {
    "email": 1,
    "previous_emails": 1,
    "name": 1,
    "lifecycle": 1,
    "version": 1,
    "version_at": 1,
    "needs_support": 1,
    "products": 1,
    "stripe_customer_id": 1,
    "subscription_ids": 1,
    "payment_ids": 1,
}


def known_customer(customer: CanonicalCustomer) -> KnownCustomer:
    """The customer as a sweep sees it: its addresses and, once published, its desired state
    (the event a repair step carries; the sweep gives it its own id)."""
    event = None
    if customer.version >= 1:
        source = Source(
            provider="switchboard",
            event_id=f"state:{customer.customer_id}:{customer.version}",
            event_type="reconcile.state",
            occurred_at=customer.version_at or now(),
        )
        event = customer_event(customer, source)
    emails = (customer.email, *customer.previous_emails)
    return KnownCustomer(customer.customer_id, customer.version, emails, event)


class MongoCanonicalStates:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.customers = db["customers"]

    async def pages(self, size: int) -> AsyncIterator[list[KnownCustomer]]:
        # one cursor, unsorted: FerretDB 1.x pushes neither a sort nor an `_id` range down, so
        # paging by id scanned the whole collection per page (20 s for 10,000 customers;
        # one pass: under 2 s)
        page: list[KnownCustomer] = []
        async for doc in self.customers.find({}, _FIELDS, batch_size=size):
            page.append(known_customer(CanonicalCustomer.model_validate(doc)))
            if len(page) == size:
                yield page
                page = []
        if page:
            yield page


class InMemoryCanonicalStates:
    """The fake: canonical customers a test puts in."""

    def __init__(self, customers: list[CanonicalCustomer] | None = None) -> None:
        self.by_id = {c.customer_id: c for c in customers or []}

    def put(self, customer: CanonicalCustomer) -> None:
        self.by_id[customer.customer_id] = customer

    async def pages(self, size: int) -> AsyncIterator[list[KnownCustomer]]:
        ids = sorted(self.by_id)
        for start in range(0, len(ids), size):
            yield [known_customer(self.by_id[i]) for i in ids[start : start + size]]
