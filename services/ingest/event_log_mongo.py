"""The PyMongo adapter of the event log (see `event_log.py`): `webhook_events`, and the markers
in `unfinished_events`. Only FerretDB 1.x features: unique `_id`s, plain indexes, single-document
atomic updates. A marker is written before its event and removed once it is published; one
whose event is missing or already published is simply dropped.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from libs.runtime.clock import now
from libs.runtime.logging import get_logger
from libs.runtime.mongo import DUPLICATE_KEY
from libs.runtime.repository import BULK_CHUNK

from .event_log import APPLIED, PUBLISHED, RECEIVED, Document, Finished, finished_fields

log = get_logger()


async def insert_ignoring_duplicates(
    collection: AsyncCollection[Document], documents: Sequence[Document]
) -> None:
    """Insert many; documents whose `_id` is already there are left as they are."""
    if not documents:
        return
    try:
        await collection.insert_many(list(documents), ordered=False)
    except BulkWriteError as exc:
        if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
            raise


class MongoEventLog:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.events: AsyncCollection[Document] = db["webhook_events"]
        self.unfinished: AsyncCollection[Document] = db["unfinished_events"]

    async def create_indexes(self) -> None:
        await self.events.create_index([("status", 1), ("received_at", 1)])
        await self.unfinished.create_index([("received_at", 1)])

    async def add(self, documents: Sequence[Document]) -> list[bool | Exception]:
        added: list[bool | Exception] = [True] * len(documents)
        duplicates: list[str] = []
        # The marker first: an event stored without one would be invisible to the relay, while
        # a marker without its event (the insert below failed) is dropped by it.
        await insert_ignoring_duplicates(
            self.unfinished, [{"_id": d["_id"], "received_at": d["received_at"]} for d in documents]
        )
        try:
            await self.events.insert_many(list(documents), ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                if error.get("code") == DUPLICATE_KEY:
                    added[error["index"]] = False
                    duplicates.append(documents[error["index"]]["_id"])
                else:
                    added[error["index"]] = exc
        if duplicates:
            await self._count_redeliveries(duplicates)
        return added

    async def _count_redeliveries(self, event_ids: list[str]) -> None:
        try:
            await self.events.update_many({"_id": {"$in": event_ids}}, {"$inc": {"deliveries": 1}})
        except Exception:  # a lost count is not worth failing anyone's request over
            log.warning("redelivery_count_failed", events=len(event_ids))

    async def add_internal(self, document: Document) -> bool:
        await insert_ignoring_duplicates(
            self.unfinished, [{"_id": document["_id"], "received_at": now()}]
        )
        try:
            await self.events.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, event_id: str) -> Document | None:
        return await self.events.find_one({"_id": event_id})

    async def finish(self, finished: Sequence[Finished], applied_at: datetime) -> None:
        t = now()
        updates = [
            UpdateOne(
                {"_id": f.event_id, "status": RECEIVED}, {"$set": finished_fields(f, applied_at, t)}
            )
            for f in finished
        ]
        for start in range(0, len(updates), BULK_CHUNK):
            await self.events.bulk_write(updates[start : start + BULK_CHUNK], ordered=False)
        await self.clear_unfinished(
            [f.event_id for f in finished if f.outbox is None or f.published]
        )

    async def mark_published(self, event_ids: Sequence[str]) -> None:
        if not event_ids:
            return
        await self.events.update_many(
            {"_id": {"$in": list(event_ids)}, "status": APPLIED},
            {"$set": {"status": PUBLISHED, "published_at": now()}},
        )
        await self.clear_unfinished(event_ids)

    async def clear_unfinished(self, event_ids: Sequence[str]) -> None:
        if event_ids:
            await self.unfinished.delete_many({"_id": {"$in": list(event_ids)}})

    async def backfill_unfinished(self) -> int:
        found = self.events.find(
            {"status": {"$in": [RECEIVED, APPLIED]}}, {"_id": 1, "received_at": 1}
        )
        markers = [
            {"_id": d["_id"], "received_at": d.get("received_at") or now()} async for d in found
        ]
        await insert_ignoring_duplicates(self.unfinished, markers)
        return len(markers)

    async def claim_unfinished(
        self, older_than: timedelta, lease: timedelta, limit: int
    ) -> tuple[list[Document], list[str]]:
        """One scan of the markers (the backlog, not the history), one leasing write and two
        reads by `_id`, however many are claimed: the relay drains a backlog at the apply
        stage's rate instead of one round trip per event."""
        t = now()
        token = secrets.token_hex(8)
        free: dict[str, Any] = {"$or": [{"lease_until": None}, {"lease_until": {"$lt": t}}]}
        page = self.unfinished.find(
            {"received_at": {"$lt": t - older_than}, **free},
            {"_id": 1},
            sort=[("received_at", 1)],
            limit=limit,
            batch_size=limit,  # one round trip, not the driver's default first batch of 101
        )
        ids = [doc["_id"] async for doc in page]
        if not ids:
            return [], []
        await self.unfinished.update_many(
            {"_id": {"$in": ids}, **free},
            {"$set": {"lease_until": t + lease, "lease_owner": token}},
        )
        ours = self.unfinished.find(
            {"_id": {"$in": ids}, "lease_owner": token}, {"_id": 1}, batch_size=limit
        )
        claimed = [doc["_id"] async for doc in ours]
        found = self.events.find({"_id": {"$in": claimed}}, batch_size=limit)
        events = {doc["_id"]: doc async for doc in found}
        orphans = [i for i in claimed if events.get(i, {}).get("status", PUBLISHED) == PUBLISHED]
        return [events[i] for i in claimed if i not in orphans], orphans

    async def backlog(self) -> tuple[int, datetime | None]:
        count = await self.unfinished.count_documents({})
        oldest = await self.unfinished.find_one({}, sort=[("received_at", 1)])
        return count, (oldest or {}).get("received_at")
