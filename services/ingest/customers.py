"""The customer aggregate's port: the canonical customer, written only by compare-and-set
(`update`/`update_many` of `libs.runtime.repository`), and its identities, the insert-once
claims (`email:…`, `stripe:…`, `checkout:…`, see `libs.contracts.identity`) that say which
customer an email, a Stripe customer or a Checkout Session is, each with the time it was
recorded.

`MongoCustomers` is the PyMongo adapter, `InMemoryCustomers` the fake; both keep the customer
through the same codec, so a fake holds exactly what the store would.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from libs.contracts.identity import checkout_key, email_key
from libs.runtime.clock import now
from libs.runtime.memory_repository import InMemoryRepository
from libs.runtime.mongo import DUPLICATE_KEY
from libs.runtime.repository import MongoRepository, Repository

from .canonical import CanonicalCustomer

Document = dict[str, Any]


def new_customer_id() -> str:
    return "cust_" + secrets.token_hex(10)


class CustomerCodec:
    def to_document(self, value: CanonicalCustomer) -> Document:
        fields = value.model_dump(mode="python", exclude={"customer_id", "revision"})
        # `email_lower` is what the indexes and support's lookups use
        fields.update(email_lower=value.email.lower(), updated_at=now())
        return fields

    def from_document(self, document: Document) -> CanonicalCustomer:
        return CanonicalCustomer.model_validate(document)


class Recorded(NamedTuple):
    """An identity key's owner and when the key was first recorded."""

    customer_id: str
    at: datetime


class CustomerRepository(Repository[CanonicalCustomer], Protocol):
    async def find(self, keys: Iterable[str]) -> dict[str, str]:
        """The owners of those identity keys that have one (one read)."""
        ...

    async def claim(self, owners: Mapping[str, str]) -> dict[str, str]:
        """Point each key at its customer unless it already points somewhere (insert-once);
        return each key's owner as it now stands."""
        ...

    async def move(self, old_key: str, new_key: str, customer_id: str) -> None:
        """An email change: the new key points at the customer, the old one no longer."""
        ...

    async def find_by_email(self, email: str) -> CanonicalCustomer | None: ...

    async def recorded(self, key: str) -> Recorded | None:
        """One identity key's owner and when it was recorded (one read)."""
        ...

    async def forget_checkouts(self, recorded_before: datetime) -> int:
        """Delete the Checkout Session keys recorded before that time; how many went."""
        ...


class MongoCustomers(MongoRepository[CanonicalCustomer]):
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        super().__init__(db["customers"], CustomerCodec())
        self.identities = db["identities"]

    async def create_indexes(self) -> None:
        await self.collection.create_index([("email_lower", 1)])
        await self.collection.create_index([("stripe_customer_id", 1)])

    async def find(self, keys: Iterable[str]) -> dict[str, str]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        found = self.identities.find({"_id": {"$in": wanted}}, batch_size=len(wanted))
        return {str(doc["_id"]): str(doc["customer_id"]) async for doc in found}

    async def claim(self, owners: Mapping[str, str]) -> dict[str, str]:
        if not owners:
            return {}
        t = now()
        docs = [{"_id": k, "customer_id": c, "at": t} for k, c in owners.items()]
        try:
            await self.identities.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            held = await self.find(docs[e["index"]]["_id"] for e in errors)
            return {**owners, **held}
        return dict(owners)

    async def move(self, old_key: str, new_key: str, customer_id: str) -> None:
        await self.identities.update_one(
            {"_id": new_key}, {"$set": {"customer_id": customer_id, "at": now()}}, upsert=True
        )
        await self.identities.delete_one({"_id": old_key, "customer_id": customer_id})

    async def find_by_email(self, email: str) -> CanonicalCustomer | None:
        owner = (await self.find([email_key(email)])).get(email_key(email))
        return await self.get(owner) if owner else None

    async def recorded(self, key: str) -> Recorded | None:
        doc = await self.identities.find_one({"_id": key})
        if doc is None or not isinstance(doc.get("at"), datetime):
            return None
        at: datetime = doc["at"]  # the clients are tz-aware; a naive one reads as UTC
        return Recorded(str(doc["customer_id"]), at if at.tzinfo else at.replace(tzinfo=UTC))

    async def forget_checkouts(self, recorded_before: datetime) -> int:
        # a range on `_id` (`;` sorts right after `:`), so the index finds the keys
        first, past = checkout_key(""), checkout_key("").replace(":", ";")
        result = await self.identities.delete_many(
            {"_id": {"$gte": first, "$lt": past}, "at": {"$lt": recorded_before}}
        )
        return int(result.deleted_count)


class InMemoryCustomers(InMemoryRepository[CanonicalCustomer]):
    def __init__(self, clock: Callable[[], datetime] = now) -> None:
        """`clock`: the time an identity is recorded at."""
        super().__init__(CustomerCodec())
        self.identities: dict[str, str] = {}
        self.recorded_at: dict[str, datetime] = {}
        self._clock = clock

    async def find(self, keys: Iterable[str]) -> dict[str, str]:
        return {k: self.identities[k] for k in set(keys) if k in self.identities}

    async def claim(self, owners: Mapping[str, str]) -> dict[str, str]:
        for key in owners.keys() - self.identities.keys():
            self.recorded_at[key] = self._clock()
        return {k: self.identities.setdefault(k, c) for k, c in owners.items()}

    async def move(self, old_key: str, new_key: str, customer_id: str) -> None:
        self.identities[new_key], self.recorded_at[new_key] = customer_id, self._clock()
        if self.identities.get(old_key) == customer_id:
            del self.identities[old_key]
            self.recorded_at.pop(old_key, None)

    async def find_by_email(self, email: str) -> CanonicalCustomer | None:
        owner = self.identities.get(email_key(email))
        return await self.get(owner) if owner else None

    async def recorded(self, key: str) -> Recorded | None:
        owner, at = self.identities.get(key), self.recorded_at.get(key)
        return Recorded(owner, at) if owner and at else None

    async def forget_checkouts(self, recorded_before: datetime) -> int:
        old = [
            key
            for key, at in self.recorded_at.items()
            if key.startswith(checkout_key("")) and at < recorded_before
        ]
        for key in old:
            del self.identities[key], self.recorded_at[key]
        return len(old)
