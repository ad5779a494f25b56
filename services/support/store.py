"""Support's MongoDB records, and read-only views of ingest's.

Support owns three collections, each read by `_id` (or `_id: {$in}`) on every hot path, because
FerretDB 1.x answers anything else with a scan:

- `support_incidents`: one document per (customer, integration) — the incident record of
  `incidents.py` — written with compare-and-set on `revision` (no transactions in FerretDB 1.x).
- `support_failures`: one document per failed step (`<integration>:<event_id>`), with the event
  to replay. Listed by integration and time (a scan of a small collection: failures are rare).
- `support_timelines`: one document per customer with its recent sync outcomes, trimmed in code
  (FerretDB ignores `$push`+`$slice`).

Ingest's `customers`, `identities` and `webhook_events` are only read, by `_id` — except a
search by subscription or payment id, which scans `customers` (see `find_customer_ids`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from libs.contracts.identity import email_key, stripe_key
from libs.runtime.clock import now
from libs.runtime.mongo import ConcurrentUpdate

from . import timelines
from .incidents import IncidentRecord, has_pending, record_id

Document = dict[str, Any]

#: step statuses
FAILED, REPLAYED, SYNCED, SUPERSEDED = "failed", "replayed", "synced", "superseded"
REPLAYABLE: Final = (FAILED, REPLAYED)
LIST_LIMIT: Final = 500


class SupportStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.incidents = db["support_incidents"]
        self.failures = db["support_failures"]
        self.timelines = db["support_timelines"]
        # ingest's, read only
        self.customers = db["customers"]
        self.identities = db["identities"]
        self.events = db["webhook_events"]

    async def create_indexes(self) -> None:
        await self.failures.create_index([("integration", 1), ("failed_at", 1)])
        await self.incidents.create_index([("pending", 1)])

    # --- incident records ---------------------------------------------------------------------

    async def load_record(self, customer_id: str, integration: str) -> IncidentRecord:
        doc = await self.incidents.find_one({"_id": record_id(customer_id, integration)})
        if doc is None:
            return IncidentRecord(customer_id=customer_id, integration=integration)
        return IncidentRecord.model_validate(doc["record"])

    async def save_record(self, before: IncidentRecord, after: IncidentRecord) -> IncidentRecord:
        """Compare-and-set on `revision`; raises `ConcurrentUpdate` if another writer won."""
        saved = after.model_copy(update={"revision": before.revision + 1})
        fields = {
            "customer_id": saved.customer_id,
            "integration": saved.integration,
            "revision": saved.revision,
            "pending": has_pending(saved),
            "has_ticket": any(i.ticket_id is not None for i in saved.incidents),
            "record": saved.model_dump(mode="json"),
            "updated_at": now(),
        }
        if before.revision == 0:
            try:
                await self.incidents.insert_one({"_id": saved.record_id, **fields})
            except DuplicateKeyError:
                raise ConcurrentUpdate(saved.record_id) from None
            return saved
        result = await self.incidents.update_one(
            {"_id": saved.record_id, "revision": before.revision}, {"$set": fields}
        )
        if result.matched_count == 0:
            raise ConcurrentUpdate(saved.record_id)
        return saved

    async def records_of(self, customer_id: str, integrations: list[str]) -> list[IncidentRecord]:
        ids = [record_id(customer_id, name) for name in integrations]
        found = self.incidents.find({"_id": {"$in": ids}})
        return [IncidentRecord.model_validate(doc["record"]) async for doc in found]

    async def pending_records(self, limit: int = 50) -> list[IncidentRecord]:
        found = self.incidents.find({"pending": True}, limit=limit)
        return [IncidentRecord.model_validate(doc["record"]) async for doc in found]

    async def records_with_tickets(self, limit: int = LIST_LIMIT) -> list[IncidentRecord]:
        found = self.incidents.find({"has_ticket": True}, limit=limit)
        return [IncidentRecord.model_validate(doc["record"]) async for doc in found]

    async def open_incident_count(self) -> int:
        return await self.incidents.count_documents({"record.current.status": "open"})

    # --- failed steps -------------------------------------------------------------------------

    async def record_failure(self, step: Document) -> bool:
        """Insert or update a failed step; False if this exact failure was recorded already."""
        key = step["failure_key"]
        existing = await self.failures.find_one({"_id": step["_id"]}, {"failure_key": 1})
        if existing is None:
            try:
                await self.failures.insert_one({**step, "replays": 0, "recorded_at": now()})
                return True
            except DuplicateKeyError:
                existing = {"failure_key": None}
        if existing.get("failure_key") == key:
            return False
        fields = {k: v for k, v in step.items() if k != "_id"}
        await self.failures.update_one({"_id": step["_id"]}, {"$set": fields})
        return True

    async def get_step(self, integration: str, event_id: str) -> Document | None:
        return await self.failures.find_one({"_id": step_id(integration, event_id)})

    async def steps(self, ids: list[str]) -> list[Document]:
        if not ids:
            return []
        return [doc async for doc in self.failures.find({"_id": {"$in": ids}})]

    async def set_step_status(
        self,
        ids: list[str],
        status: str,
        *,
        only_from: tuple[str, ...] = REPLAYABLE,
        max_version: int | None = None,
        **fields: Any,
    ) -> int:
        if not ids:
            return 0
        query: Document = {"_id": {"$in": ids}, "status": {"$in": list(only_from)}}
        if max_version is not None:
            query["version"] = {"$lte": max_version}
        result = await self.failures.update_many(
            query, {"$set": {"status": status, "status_at": now(), **fields}}
        )
        return result.modified_count

    async def mark_replayed(self, step: Document, replay_id: str) -> None:
        await self.failures.update_one(
            {"_id": step["_id"]},
            {
                "$set": {"status": REPLAYED, "replay_id": replay_id, "replayed_at": now()},
                "$inc": {"replays": 1},
            },
        )

    async def list_failures(
        self,
        *,
        integration: str | None,
        since: datetime | None,
        until: datetime | None,
        statuses: tuple[str, ...] | None = None,
        limit: int = LIST_LIMIT,
    ) -> list[Document]:
        query: Document = {}
        if integration:
            query["integration"] = integration
        window: Document = {}
        if since is not None:
            window["$gte"] = since
        if until is not None:
            window["$lt"] = until
        if window:
            query["failed_at"] = window
        if statuses:
            query["status"] = {"$in": list(statuses)}
        found = self.failures.find(query, sort=[("failed_at", -1)], limit=limit)
        return [doc async for doc in found]

    # --- timelines ----------------------------------------------------------------------------

    async def add_timeline_entry(self, customer_id: str, entry: Document, limit: int) -> None:
        """Append once (a redelivered outcome has the same key), keep the newest `limit`."""
        await self.add_timeline_entries([(customer_id, entry)], limit)

    async def add_timeline_entries(self, items: list[tuple[str, Document]], limit: int) -> None:
        """Many customers' entries: one read and one bulk write (see `timelines.py`)."""
        try:
            await timelines.add_entries(self.timelines, items, limit)
        except timelines.ConcurrentTimelineUpdate as exc:
            raise ConcurrentUpdate(str(exc)) from None

    async def records_present(self, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Of these (customer, integration) pairs, those with an incident record (one read)."""
        if not pairs:
            return set()
        ids = {record_id(c, i): (c, i) for c, i in pairs}
        found = self.incidents.find({"_id": {"$in": sorted(ids)}}, {"_id": 1})
        return {ids[doc["_id"]] async for doc in found}

    async def timeline(self, customer_id: str) -> list[Document]:
        doc = await self.timelines.find_one({"_id": customer_id})
        return list((doc or {}).get("entries", []))

    # --- ingest's records (read only) ---------------------------------------------------------

    async def customer(self, customer_id: str) -> Document | None:
        return await self.customers.find_one({"_id": customer_id})

    async def webhook_events(self, event_ids: list[str]) -> list[Document]:
        if not event_ids:
            return []
        found = self.events.find({"_id": {"$in": sorted(set(event_ids))}}, {"raw": 0})
        return [doc async for doc in found]

    async def find_customer_ids(self, q: str) -> list[str]:
        """Customers matching an email, a Stripe customer / subscription / payment id or an
        event id. Emails, Stripe customer ids and event ids are looked up by `_id`; a
        subscription or payment id is looked up on the customers' id lists, a scan on FerretDB
        (an index on MongoDB would serve it, but the collection is ingest's)."""
        q = q.strip()
        found: list[str] = []
        keys = [email_key(q)] if "@" in q else [stripe_key(q)]
        async for doc in self.identities.find({"_id": {"$in": keys}}):
            found.append(str(doc["customer_id"]))
        if "@" in q:
            return found
        event = await self.events.find_one({"_id": q}, {"customer_id": 1})
        if event and event.get("customer_id"):
            found.append(str(event["customer_id"]))
        if await self.customers.find_one({"_id": q}, {"_id": 1}):
            found.append(q)
        if not found:
            event_step = await self.failures.find_one({"event_id": q}, {"customer_id": 1})
            if event_step:
                found.append(str(event_step["customer_id"]))
        if not found and q.startswith(("sub_", "pi_", "ch_", "in_", "py_")):
            query = {"$or": [{"subscription_ids": q}, {"payment_ids": q}]}
            async for doc in self.customers.find(query, {"_id": 1}, limit=10):
                found.append(str(doc["_id"]))
        return list(dict.fromkeys(found))


def step_id(integration: str, event_id: str) -> str:
    return f"{integration}:{event_id}"
