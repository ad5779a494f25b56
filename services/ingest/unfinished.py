"""The unfinished-event markers of ingest's store (see `store.py`): one small document in
`unfinished_events` per event not yet published, written before the event and removed once it
is published. The relay scans these, the backlog, never the whole event collection.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from libs.runtime.clock import now

from .intake import insert_ignoring_duplicates

Document = dict[str, Any]

RECEIVED, APPLIED, PUBLISHED = "received", "applied", "published"


class UnfinishedEvents:
    """What `IngestStore` does with the markers; it provides both collections."""

    events: AsyncCollection[Document]
    unfinished: AsyncCollection[Document]

    async def mark_published(self, event_ids: list[str]) -> None:
        if not event_ids:
            return
        await self.events.update_many(
            {"_id": {"$in": event_ids}, "status": APPLIED},
            {"$set": {"status": PUBLISHED, "published_at": now()}},
        )
        await self.clear_unfinished(event_ids)

    async def backfill_unfinished(self) -> int:
        """Markers for unfinished events recorded before markers were kept (one scan, at start)."""
        found = self.events.find(
            {"status": {"$in": [RECEIVED, APPLIED]}}, {"_id": 1, "received_at": 1}
        )
        markers = [
            {"_id": d["_id"], "received_at": d.get("received_at") or now()} async for d in found
        ]
        await insert_ignoring_duplicates(self.unfinished, markers)
        return len(markers)

    async def clear_unfinished(self, event_ids: list[str]) -> None:
        if event_ids:
            await self.unfinished.delete_many({"_id": {"$in": event_ids}})

    async def claim_unfinished(
        self, older_than: timedelta, lease: timedelta, limit: int
    ) -> tuple[list[Document], list[str]]:
        """Lease up to `limit` unfinished events (oldest first) for this relay, so two relays do
        not both work on one; return their event records, and the ids of markers left behind by
        events that are missing or already published.

        One scan of the markers (the backlog, not the history), one leasing write and two reads
        by `_id`, however many are claimed: the relay drains a backlog at the apply stage's
        rate instead of one round trip per event.
        """
        t = now()
        token = secrets.token_hex(8)
        free = {"$or": [{"lease_until": None}, {"lease_until": {"$lt": t}}]}
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
        """Events accepted but not yet published, and when the oldest arrived."""
        count = await self.unfinished.count_documents({})
        oldest = await self.unfinished.find_one({}, sort=[("received_at", 1)])
        return count, (oldest or {}).get("received_at")
