"""Ingest's read API for other services: what support may know of customers and webhooks.

Ingest owns `customers`, `identities` and `webhook_events`; this module (with ingest's store) is
the only code that knows how they are laid out, so ingest can change its records without
breaking a reader. A reader gets typed views: the canonical customer (ingest's public model,
with its `step_of` rule) and each webhook event's story (received, applied, published).

`CustomerReadModel` is the port; `MongoCustomerReadModel` reads ingest's collections, by `_id`
on every path but one (a subscription or payment id scans `customers`: FerretDB 1.x answers any
other query with a scan, and those lookups are rare console searches). `InMemoryCustomerReadModel`
is the fake that tests of other services fill with the same records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from pymongo.asynchronous.database import AsyncDatabase

from libs.contracts.identity import email_key, identity_keys, stripe_key

from .canonical import CanonicalCustomer

Document = dict[str, Any]

#: Stripe ids that are not a customer's: looked up on the customers' id lists
_SCANNED_PREFIXES = ("sub_", "pi_", "ch_", "in_", "py_")


class PublishedState(BaseModel):
    """The customer state an event published (from its outbox message)."""

    model_config = ConfigDict(frozen=True)

    lifecycle: str | None = None
    version: int | None = None


class WebhookEventView(BaseModel):
    """One event ingest took in (a Stripe webhook, or a change Switchboard made itself)."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    provider: str | None = None
    type: str | None = None
    customer_id: str | None = None
    received_at: datetime | None = None
    applied_at: datetime | None = None
    #: received / applied / published
    status: str | None = None
    #: what applying it did (applied, stale, duplicate, …)
    outcome: str | None = None
    deliveries: int = 1
    #: the state it published; None if it published none (or not yet applied)
    published: PublishedState | None = None


def _outbox(value: Any) -> Document:
    """The outbox message as a dict: older records hold it as a JSON string, newer ones as the
    CustomerEvent document itself."""
    if isinstance(value, dict):
        return value
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def event_view(doc: Document) -> WebhookEventView:
    """A stored `webhook_events` record as readers see it."""
    outbox = _outbox(doc.get("outbox"))
    return WebhookEventView(
        event_id=str(doc["_id"]),
        provider=doc.get("provider"),
        type=doc.get("type"),
        customer_id=doc.get("customer_id"),
        received_at=doc.get("received_at"),
        applied_at=doc.get("applied_at"),
        status=doc.get("status"),
        outcome=doc.get("outcome"),
        deliveries=int(doc.get("deliveries") or 1),
        published=PublishedState(lifecycle=outbox.get("lifecycle"), version=outbox.get("version"))
        if outbox
        else None,
    )


class CustomerReadModel(Protocol):
    async def customer(self, customer_id: str) -> CanonicalCustomer | None: ...

    async def webhook_events(self, event_ids: Iterable[str]) -> list[WebhookEventView]:
        """The events of these ids that exist, in no particular order."""
        ...

    async def find_customer_ids(self, q: str) -> list[str]:
        """Customers matching an email, a Stripe customer / subscription / payment id, an event
        id or a customer id; each once, in the order found."""
        ...


def _lookup_keys(q: str) -> list[str]:
    return [email_key(q)] if "@" in q else [stripe_key(q)]


class MongoCustomerReadModel:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.customers = db["customers"]
        self.identities = db["identities"]
        self.events = db["webhook_events"]

    async def customer(self, customer_id: str) -> CanonicalCustomer | None:
        doc = await self.customers.find_one({"_id": customer_id})
        return None if doc is None else CanonicalCustomer.model_validate(doc)

    async def webhook_events(self, event_ids: Iterable[str]) -> list[WebhookEventView]:
        ids = sorted(set(event_ids))
        if not ids:
            return []
        # the raw body is the largest field and no reader needs it
        found = self.events.find({"_id": {"$in": ids}}, {"raw": 0})
        return [event_view(doc) async for doc in found]

    async def find_customer_ids(self, q: str) -> list[str]:
        q = q.strip()
        found = [
            str(doc["customer_id"])
            async for doc in self.identities.find({"_id": {"$in": _lookup_keys(q)}})
        ]
        if "@" in q:
            return found
        event = await self.events.find_one({"_id": q}, {"customer_id": 1})
        if event and event.get("customer_id"):
            found.append(str(event["customer_id"]))
        if await self.customers.find_one({"_id": q}, {"_id": 1}):
            found.append(q)
        if not found and q.startswith(_SCANNED_PREFIXES):
            query = {"$or": [{"subscription_ids": q}, {"payment_ids": q}]}
            async for doc in self.customers.find(query, {"_id": 1}, limit=10):
                found.append(str(doc["_id"]))
        return list(dict.fromkeys(found))


class InMemoryCustomerReadModel:
    """The fake, filled with the records ingest would have written."""

    def __init__(self) -> None:
        self.customers: dict[str, CanonicalCustomer] = {}
        self.identities: dict[str, str] = {}
        self.events: dict[str, WebhookEventView] = {}

    def add_customer(self, customer: CanonicalCustomer) -> None:
        self.customers[customer.customer_id] = customer
        for key in identity_keys(customer.stripe_customer_id, customer.email):
            self.identities.setdefault(key, customer.customer_id)

    def add_event(self, doc: Document) -> None:
        """A `webhook_events` record, as ingest stores it."""
        view = event_view(doc)
        self.events[view.event_id] = view

    async def customer(self, customer_id: str) -> CanonicalCustomer | None:
        return self.customers.get(customer_id)

    async def webhook_events(self, event_ids: Iterable[str]) -> list[WebhookEventView]:
        return [self.events[i] for i in sorted(set(event_ids)) if i in self.events]

    async def find_customer_ids(self, q: str) -> list[str]:
        q = q.strip()
        found = [self.identities[k] for k in _lookup_keys(q) if k in self.identities]
        if "@" in q:
            return found
        event = self.events.get(q)
        if event is not None and event.customer_id:
            found.append(event.customer_id)
        if q in self.customers:
            found.append(q)
        if not found and q.startswith(_SCANNED_PREFIXES):
            found += [
                c.customer_id
                for c in self.customers.values()
                if q in c.subscription_ids or q in c.payment_ids
            ][:10]
        return list(dict.fromkeys(found))
