"""Support's records, each behind a small port whose one write is `update(id, change)`:

- the incident record, one per (customer, integration) (`support_incidents`);
- the failed step, one per (integration, event) with the event to replay (`support_failures`);
- the timeline, one per customer with its recent sync outcomes (`support_timelines`).

Support also reads the reconcile sweeps the workers record (`SweepStore`, `libs/reconcile`).

Every write is the runtime repository's compare-and-set (FerretDB 1.x has no transactions);
the ports add only the few queries the console and the sweeper make. The codecs here are how the
records are stored, shared by the PyMongo adapters (`mongo_records.py`) and the fakes
(`fakes.py`), so a fake stores exactly what the store does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final, Protocol

from libs.reconcile.store import SweepStore as SweepStore  # re-exported: the sweeps port
from libs.runtime.clock import now
from libs.runtime.repository import REVISION, WRITE_TOKEN, Repository

from .incidents import IncidentRecord, has_pending

Document = dict[str, Any]
#: a failed step as stored: `_id` is `step_id(integration, event_id)`
Step = dict[str, Any]
#: a customer's timeline: its outcome entries, oldest first
Timeline = list[Document]

#: step statuses
FAILED, REPLAYED, SYNCED, SUPERSEDED = "failed", "replayed", "synced", "superseded"
REPLAYABLE: Final = (FAILED, REPLAYED)
LIST_LIMIT: Final = 500


def step_id(integration: str, event_id: str) -> str:
    return f"{integration}:{event_id}"


class IncidentCodec:
    """The record under `record`, beside the fields the indexes and queries use (`pending` for
    the sweeper, `has_ticket` for the tickets list)."""

    def to_document(self, value: IncidentRecord) -> Document:
        return {
            "customer_id": value.customer_id,
            "integration": value.integration,
            "pending": has_pending(value),
            "has_ticket": any(i.ticket_id is not None for i in value.incidents),
            "record": value.model_dump(mode="json", exclude={"revision"}),
            "updated_at": now(),
        }

    def from_document(self, document: Document) -> IncidentRecord:
        record = IncidentRecord.model_validate(document["record"])
        return record.model_copy(update={"revision": int(document.get(REVISION, 0))})


class StepCodec:
    def to_document(self, value: Step) -> Document:
        return dict(value)

    def from_document(self, document: Document) -> Step:
        return {k: v for k, v in document.items() if k not in (REVISION, WRITE_TOKEN)}


class TimelineCodec:
    def to_document(self, value: Timeline) -> Document:
        return {"entries": list(value)}

    def from_document(self, document: Document) -> Timeline:
        return list(document.get("entries", []))


class IncidentRecords(Repository[IncidentRecord], Protocol):
    async def present(self, record_ids: Iterable[str]) -> set[str]:
        """Of these ids, those with a record (read without the records)."""
        ...

    async def pending(self, limit: int = 50) -> list[IncidentRecord]:
        """Records with an effect still to carry out."""
        ...

    async def with_tickets(self, limit: int = LIST_LIMIT) -> list[IncidentRecord]: ...

    async def open_count(self) -> int: ...


class FailedSteps(Repository[Step], Protocol):
    async def listed(
        self,
        *,
        integration: str | None,
        since: datetime | None,
        until: datetime | None,
        statuses: tuple[str, ...] | None = None,
        limit: int = LIST_LIMIT,
    ) -> list[Step]:
        """Newest failure first, in `[since, until)`."""
        ...

    async def of_event(self, event_id: str) -> Step | None:
        """A step of this event, whatever its integration."""
        ...


Timelines = Repository[Timeline]


class Records:
    """Support's three record ports, as the use cases get them."""

    def __init__(self, incidents: IncidentRecords, steps: FailedSteps, timelines: Timelines):
        self.incidents, self.steps, self.timelines = incidents, steps, timelines
