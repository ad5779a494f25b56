"""In-memory support records for tests of handlers and use cases (no servers): the runtime
repository's fake, stored through the same codecs, plus the queries of the ports."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from libs.reconcile.store import InMemorySweepStore as InMemorySweepStore  # the sweeps fake
from libs.runtime.memory_repository import InMemoryRepository

from .incidents import IncidentRecord
from .ports import LIST_LIMIT, IncidentCodec, Step, StepCodec, Timeline, TimelineCodec


class InMemoryIncidentRecords(InMemoryRepository[IncidentRecord]):
    def __init__(self) -> None:
        super().__init__(IncidentCodec())

    async def present(self, record_ids: Iterable[str]) -> set[str]:
        return {i for i in record_ids if i in self.documents}

    def _where(self, field: str, limit: int) -> list[IncidentRecord]:
        found = [d for d in self.documents.values() if d.get(field)][:limit]
        return [self.codec.from_document(d) for d in found]

    async def pending(self, limit: int = 50) -> list[IncidentRecord]:
        return self._where("pending", limit)

    async def with_tickets(self, limit: int = LIST_LIMIT) -> list[IncidentRecord]:
        return self._where("has_ticket", limit)

    async def open_count(self) -> int:
        return sum(
            1
            for d in self.documents.values()
            if (d["record"].get("current") or {}).get("status") == "open"
        )


def _utc(value: Any) -> datetime:
    moment: datetime = value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class InMemoryFailedSteps(InMemoryRepository[Step]):
    def __init__(self) -> None:
        super().__init__(StepCodec())

    async def listed(
        self,
        *,
        integration: str | None,
        since: datetime | None,
        until: datetime | None,
        statuses: tuple[str, ...] | None = None,
        limit: int = LIST_LIMIT,
    ) -> list[Step]:
        found = [
            self.codec.from_document(d)
            for d in self.documents.values()
            if (not integration or d["integration"] == integration)
            and (since is None or _utc(d["failed_at"]) >= since)
            and (until is None or _utc(d["failed_at"]) < until)
            and (not statuses or d["status"] in statuses)
        ]
        found.sort(key=lambda s: _utc(s["failed_at"]), reverse=True)
        return found[:limit]

    async def of_event(self, event_id: str) -> Step | None:
        found = next((d for d in self.documents.values() if d["event_id"] == event_id), None)
        return None if found is None else self.codec.from_document(found)


class InMemoryTimelines(InMemoryRepository[Timeline]):
    def __init__(self) -> None:
        super().__init__(TimelineCodec())
