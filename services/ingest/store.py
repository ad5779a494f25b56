"""MongoDB persistence of ingest: webhook events (which double as the outbox), customers and
identities. Only FerretDB 1.x features are used: unique `_id`s, plain indexes, single-document
atomic updates (no transactions, no TTL, no `$push`+`$slice`).

Unfinished events. Beside each event record not yet published sits a small marker in
`unfinished_events` (written before the event, removed once it is published). The relay finds
its work by scanning the markers, never the event collection: on FerretDB/SQLite any query but
one by `_id` scans the whole collection, and the events are every webhook ever received, while
the markers are only the backlog. A marker whose event is missing or already published is
simply dropped.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from libs.contracts.identity import identity_keys
from libs.runtime.clock import now
from libs.runtime.mongo import DUPLICATE_KEY, ConcurrentUpdate

from .canonical import CanonicalCustomer
from .intake import insert_ignoring_duplicates
from .records import Finished, customer_fields, integration_steps
from .unfinished import APPLIED, PUBLISHED, RECEIVED, UnfinishedEvents

Document = dict[str, Any]


#: FerretDB 1.24 stalls on one `update` command with many statements (100 never returned in
#: a probe; 60 took 94 ms), so bulk updates go in chunks of this size.
BULK_CHUNK = 40


def new_customer_id() -> str:
    return "cust_" + secrets.token_hex(10)


#: compare-and-set attempts before giving up (the message is then handed back and retried)
MAX_CAS_TRIES = 20


class IngestStore(UnfinishedEvents):
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.events = db["webhook_events"]
        self.unfinished = db["unfinished_events"]
        self.customers = db["customers"]
        self.identities = db["identities"]

    async def create_indexes(self) -> None:
        await self.events.create_index([("status", 1), ("received_at", 1)])
        await self.unfinished.create_index([("received_at", 1)])
        await self.customers.create_index([("email_lower", 1)])
        await self.customers.create_index([("stripe_customer_id", 1)])

    # --- webhook events / outbox -------------------------------------------------------------

    async def _insert_once(self, document: Document) -> bool:
        """Insert; False if a record with this `_id` already exists."""
        try:
            await self.events.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    @staticmethod
    def event_document(event_id: str, event_type: str, created: int, raw: str) -> Document:
        """The raw-event record, as the intake inserts it."""
        return {
            "_id": event_id,
            "provider": "stripe",
            "type": event_type,
            "created": created,
            "raw": raw,  # as received: Stripe keys may hold '.', which FerretDB refuses
            "status": RECEIVED,
            "received_at": now(),
            "deliveries": 1,
        }

    async def record_internal(
        self, event_id: str, event_type: str, customer_id: str, outbox: str
    ) -> bool:
        """An outbox record for a change Switchboard itself made (no webhook behind it)."""
        await insert_ignoring_duplicates(self.unfinished, [{"_id": event_id, "received_at": now()}])
        return await self._insert_once(
            {
                "_id": event_id,
                "provider": "switchboard",
                "type": event_type,
                "status": APPLIED,
                "customer_id": customer_id,
                "outcome": "applied",
                "outbox": outbox,
                "received_at": now(),
            }
        )

    async def mark_applied(
        self, event_id: str, customer_id: str | None, outcome: str, outbox: str | None
    ) -> None:
        fields: Document = {"customer_id": customer_id, "outcome": outcome, "applied_at": now()}
        if outbox is None:
            fields["status"] = PUBLISHED  # nothing to publish
        else:
            fields.update(status=APPLIED, outbox=outbox)
        await self.events.update_one({"_id": event_id, "status": RECEIVED}, {"$set": fields})
        if outbox is None:
            await self.clear_unfinished([event_id])

    async def finish_events(self, finished: list[Finished], applied_at: datetime) -> None:
        """Record many events' outcomes at once. The batch path publishes before this, so
        `applied_at` is when the state changed, taken before the publish (a worker's outcome
        can come back before this write: the console orders by these times)."""
        t = now()
        updates = []
        for f in finished:
            fields: Document = {
                "customer_id": f.customer_id,
                "outcome": f.outcome,
                "applied_at": applied_at,
            }
            if f.outbox is not None:
                fields["outbox"] = f.outbox
            if f.outbox is None or f.published:
                fields.update(status=PUBLISHED, published_at=t)
            else:
                fields["status"] = APPLIED  # Kafka refused it: the relay publishes it later
            updates.append(UpdateOne({"_id": f.event_id, "status": RECEIVED}, {"$set": fields}))
        await self._bulk(self.events, updates)
        await self.clear_unfinished(
            [f.event_id for f in finished if f.outbox is None or f.published]
        )

    @staticmethod
    async def _bulk(collection: Any, updates: list[UpdateOne]) -> int:
        matched = 0
        for start in range(0, len(updates), BULK_CHUNK):
            result = await collection.bulk_write(updates[start : start + BULK_CHUNK], ordered=False)
            matched += result.matched_count
        return matched

    async def get_event(self, event_id: str) -> Document | None:
        return await self.events.find_one({"_id": event_id})

    # --- identities and customers ------------------------------------------------------------

    async def find_customer_id(
        self, *, stripe_customer_id: str | None, email: str | None
    ) -> str | None:
        for key in identity_keys(stripe_customer_id, email):
            found = await self.identities.find_one({"_id": key})
            if found:
                return str(found["customer_id"])
        return None

    async def claim_identity(self, key: str, customer_id: str) -> str:
        """Point `key` at `customer_id` unless it already points somewhere; return the owner."""
        try:
            await self.identities.insert_one({"_id": key, "customer_id": customer_id, "at": now()})
        except DuplicateKeyError:
            existing = await self.identities.find_one({"_id": key})
            return str(existing["customer_id"]) if existing else customer_id
        return customer_id

    async def move_identity(self, old_key: str, new_key: str, customer_id: str) -> None:
        await self.identities.update_one(
            {"_id": new_key},
            {"$set": {"customer_id": customer_id, "at": now()}},
            upsert=True,
        )
        await self.identities.delete_one({"_id": old_key, "customer_id": customer_id})

    async def ensure_customer(
        self, customer_id: str, email: str, stripe_customer_id: str | None
    ) -> None:
        with contextlib.suppress(DuplicateKeyError):
            await self.customers.insert_one(
                {
                    "_id": customer_id,
                    "email": email,
                    "email_lower": email.lower(),
                    "stripe_customer_id": stripe_customer_id,
                    "lifecycle": "lead",
                    "lifecycle_at": 0,
                    "version": 0,
                    "revision": 0,
                    "created_at": now(),
                }
            )

    async def find_identities(self, keys: set[str]) -> dict[str, str]:
        if not keys:
            return {}
        found = self.identities.find({"_id": {"$in": sorted(keys)}})
        return {doc["_id"]: str(doc["customer_id"]) async for doc in found}

    async def insert_identities(self, owners: dict[str, str]) -> set[str]:
        """Claim many identity keys; return the keys someone else already held."""
        if not owners:
            return set()
        t = now()
        docs = [{"_id": k, "customer_id": c, "at": t} for k, c in owners.items()]
        try:
            await self.identities.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return {docs[e["index"]]["_id"] for e in errors}
        return set()

    async def load_customers(self, customer_ids: set[str]) -> dict[str, CanonicalCustomer]:
        if not customer_ids:
            return {}
        found = self.customers.find({"_id": {"$in": sorted(customer_ids)}})
        return {doc["_id"]: CanonicalCustomer.model_validate(doc) async for doc in found}

    async def insert_customers(self, customers: list[CanonicalCustomer]) -> None:
        """New customers, written in their applied state in one go."""
        if customers:
            t = now()
            docs = [
                {"_id": c.customer_id, **customer_fields(c, c.revision), "created_at": t}
                for c in customers
            ]
            await self.customers.insert_many(docs, ordered=False)

    async def save_customers(
        self, pairs: list[tuple[CanonicalCustomer, CanonicalCustomer]]
    ) -> set[str]:
        """Compare-and-set many customers; return the ids whose write lost to another writer."""
        updates = [
            UpdateOne(
                {"_id": before.customer_id, "revision": before.revision},
                {"$set": customer_fields(after, before.revision + 1)},
            )
            for before, after in pairs
        ]
        if await self._bulk(self.customers, updates) == len(updates):
            return set()
        # Which ones lost: a won write left our revision and our latest event id behind.
        stored = await self.load_customers({after.customer_id for _, after in pairs})
        lost = set()
        for before, after in pairs:
            now_ = stored.get(before.customer_id)
            if (
                now_ is None
                or now_.revision != before.revision + 1
                or now_.recent_event_ids != after.recent_event_ids
                or integration_steps(now_) != integration_steps(after)
                or (now_.lifecycle, now_.version) != (after.lifecycle, after.version)
            ):
                lost.add(before.customer_id)
        return lost

    async def load_customer(self, customer_id: str) -> CanonicalCustomer | None:
        doc = await self.customers.find_one({"_id": customer_id})
        return CanonicalCustomer.model_validate(doc) if doc else None

    async def find_by_email(self, email: str) -> CanonicalCustomer | None:
        customer_id = await self.find_customer_id(stripe_customer_id=None, email=email)
        return await self.load_customer(customer_id) if customer_id else None

    async def update_customer(
        self, customer_id: str, change: Callable[[CanonicalCustomer], CanonicalCustomer]
    ) -> tuple[CanonicalCustomer, CanonicalCustomer] | None:
        """Read, change, compare-and-set; on a concurrent write, read again and redo `change`.
        Returns (before, after) as written (nothing is written when they are equal), or None
        for an unknown customer."""
        for _ in range(MAX_CAS_TRIES):
            before = await self.load_customer(customer_id)
            if before is None:
                return None
            after = change(before)
            if after == before:
                return before, after
            try:
                await self.save_customer(before, after)
            except ConcurrentUpdate:
                continue
            return before, after
        raise ConcurrentUpdate(customer_id)

    async def save_customer(self, before: CanonicalCustomer, after: CanonicalCustomer) -> None:
        """Compare-and-set on `revision`, which grows on every write (unlike `version`, which
        grows only when downstream systems must change), so two writers never both succeed."""
        result = await self.customers.update_one(
            {"_id": before.customer_id, "revision": before.revision},
            {"$set": customer_fields(after, before.revision + 1)},
        )
        if result.matched_count == 0:
            raise ConcurrentUpdate(before.customer_id)
