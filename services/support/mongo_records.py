"""Support's records on MongoDB/FerretDB: the runtime repository plus the few queries support
makes. Every hot path reads by `_id` (or `_id: {$in}`): FerretDB 1.x answers anything else with a
scan. The failed-step list scans a small collection (failures are rare)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from libs.runtime.repository import MongoRepository

from .incidents import IncidentRecord
from .ports import (
    LIST_LIMIT,
    IncidentCodec,
    Step,
    StepCodec,
    Timeline,
    TimelineCodec,
)

Document = dict[str, Any]


def failure_query(
    integration: str | None,
    since: datetime | None,
    until: datetime | None,
    statuses: tuple[str, ...] | None,
) -> Document:
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
    return query


class MongoIncidentRecords(MongoRepository[IncidentRecord]):
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        super().__init__(db["support_incidents"], IncidentCodec())

    async def present(self, record_ids: Iterable[str]) -> set[str]:
        ids = sorted(set(record_ids))
        if not ids:
            return set()
        found = self.collection.find({"_id": {"$in": ids}}, {"_id": 1})
        return {str(doc["_id"]) async for doc in found}

    async def _found(self, query: Document, limit: int) -> list[IncidentRecord]:
        return [self.codec.from_document(d) async for d in self.collection.find(query, limit=limit)]

    async def pending(self, limit: int = 50) -> list[IncidentRecord]:
        return await self._found({"pending": True}, limit)

    async def with_tickets(self, limit: int = LIST_LIMIT) -> list[IncidentRecord]:
        return await self._found({"has_ticket": True}, limit)

    async def open_count(self) -> int:
        return await self.collection.count_documents({"record.current.status": "open"})


class MongoFailedSteps(MongoRepository[Step]):
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        super().__init__(db["support_failures"], StepCodec())

    async def listed(
        self,
        *,
        integration: str | None,
        since: datetime | None,
        until: datetime | None,
        statuses: tuple[str, ...] | None = None,
        limit: int = LIST_LIMIT,
    ) -> list[Step]:
        query = failure_query(integration, since, until, statuses)
        found = self.collection.find(query, sort=[("failed_at", -1)], limit=limit)
        return [self.codec.from_document(doc) async for doc in found]

    async def of_event(self, event_id: str) -> Step | None:
        doc = await self.collection.find_one({"event_id": event_id})
        return None if doc is None else self.codec.from_document(doc)


class MongoTimelines(MongoRepository[Timeline]):
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        super().__init__(db["support_timelines"], TimelineCodec())


async def create_indexes(db: AsyncDatabase[Document]) -> None:
    await db["support_failures"].create_index([("integration", 1), ("failed_at", 1)])
    await db["support_incidents"].create_index([("pending", 1)])


__all__ = ["MongoFailedSteps", "MongoIncidentRecords", "MongoTimelines"]
