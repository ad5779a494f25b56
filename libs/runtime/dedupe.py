"""Per-integration dedupe store: processed event ids and the last applied version per customer.

Two collections per integration (`<name>_processed`, `<name>_versions`), so integrations never
share or contend on records. FerretDB 1.x has no TTL indexes, so `prune` deletes old processed
ids on a schedule; where the server supports TTL, the index does it as well.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

Document = dict[str, Any]


class DedupeStore:
    def __init__(self, db: AsyncDatabase[Document], integration: str) -> None:
        self.processed = db[f"{integration}_processed"]
        self.versions = db[f"{integration}_versions"]
        self.ttl_supported = False

    async def create_indexes(self, retention: timedelta) -> None:
        try:
            await self.processed.create_index(
                "at", expireAfterSeconds=int(retention.total_seconds()), name="at_ttl"
            )
            self.ttl_supported = True
        except OperationFailure:  # FerretDB 1.x: not implemented; `prune` covers it
            await self.processed.create_index("at", name="at")

    async def is_processed(self, event_id: str) -> bool:
        return await self.processed.find_one({"_id": event_id}, {"_id": 1}) is not None

    async def mark_processed(self, event_id: str, customer_id: str, outcome: str) -> None:
        await self.processed.update_one(
            {"_id": event_id},
            {"$set": {"customer_id": customer_id, "outcome": outcome, "at": datetime.now(UTC)}},
            upsert=True,
        )

    async def applied_version(self, customer_id: str) -> int:
        return (await self.applied(customer_id))[0]

    async def applied(self, customer_id: str) -> tuple[int, str | None]:
        """The last version applied for the customer, and the key of the desired state it
        established in the provider (None if unknown)."""
        doc = await self.versions.find_one({"_id": customer_id})
        return (int(doc["version"]), doc.get("desired_key")) if doc else (0, None)

    async def record_version(
        self, customer_id: str, version: int, desired_key: str | None = None
    ) -> None:
        """Raise the customer's applied version to `version` (never lowers it), with the key
        of the desired state that version established."""
        # A duplicate key means the record exists with a version >= ours: nothing to raise.
        with contextlib.suppress(DuplicateKeyError):
            await self.versions.update_one(
                {"_id": customer_id, "version": {"$lt": version}},
                {"$set": {"version": version, "desired_key": desired_key, "at": datetime.now(UTC)}},
                upsert=True,
            )

    async def forget_desired(self, customer_id: str) -> None:
        """A sync failed part way: what the provider holds is no longer known, so the next event
        of the customer calls the provider whatever its desired state."""
        await self.versions.update_one({"_id": customer_id}, {"$set": {"desired_key": None}})

    async def prune(self, older_than: timedelta) -> int:
        cutoff = datetime.now(UTC) - older_than
        result = await self.processed.delete_many({"at": {"$lt": cutoff}})
        return result.deleted_count
