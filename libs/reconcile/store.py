"""Where sweeps are asked for, tracked and remembered, shared by the worker replicas, the
`switchboard reconcile` command and the ops console:

- `reconcile_sweeps`: one record per sweep (requested → running → done/failed/skipped), with
  its progress while it runs and its summary and findings after;
- `reconcile_leases`: one lease per integration, so one replica sweeps at a time;
- `reconcile_drift`: per (integration, customer), drift a sweep found and what it did about it,
  so the next sweep knows a repair did not hold (and opens a ticket) or the drift is gone.

`SweepStore` is the port; `MongoSweepStore` the adapter, `InMemorySweepStore` the fake. Records
are stored as JSON-mode documents (times as ISO-8601 UTC text, which sorts in time order)."""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, TypeAdapter
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from libs.runtime.clock import now

from .records import Progress, SweepRecord, SweepState

Document = dict[str, Any]


class DriftMemory(BaseModel):
    """What earlier sweeps found for one customer at one integration."""

    kinds: tuple[str, ...]
    actions: tuple[str, ...] = ()
    first_found_at: datetime
    #: when a repair step was queued for it (None: only reported so far)
    repaired_at: datetime | None = None
    #: when the drift outlived its repair and a ticket was asked for
    ticketed_at: datetime | None = None
    #: the repair step's event id: its outcome on the worker's record says it ran
    repair_event_id: str | None = None
    version: int = 0


def new_sweep_id(integration: str) -> str:
    return f"rec_{integration}_{now():%Y%m%dT%H%M%S}_{secrets.token_hex(3)}"


def new_request(integration: str, *, dry_run: bool, by: str) -> SweepRecord:
    return SweepRecord(
        sweep_id=new_sweep_id(integration),
        integration=integration,
        dry_run=dry_run,
        requested_by=by,
        requested_at=now(),
    )


class SweepStore(Protocol):
    async def request(self, integration: str, *, dry_run: bool, by: str) -> SweepRecord: ...
    async def get(self, sweep_id: str) -> SweepRecord | None: ...
    async def next_requested(self, integration: str) -> SweepRecord | None: ...
    async def start(self, sweep_id: str, owner: str) -> SweepRecord | None: ...
    async def progress(self, sweep_id: str, progress: Progress) -> None: ...
    async def save(self, record: SweepRecord) -> None: ...
    async def latest(self, integration: str) -> SweepRecord | None: ...
    async def calls_since(self, integration: str, since: datetime) -> int: ...
    async def lease(self, integration: str, owner: str, seconds: float) -> bool: ...
    async def release(self, integration: str, owner: str) -> None: ...
    async def drift(self, integration: str) -> dict[str, DriftMemory]: ...
    async def remember(self, integration: str, customer_id: str, memory: DriftMemory) -> None: ...
    async def forget(self, integration: str, customer_id: str) -> None: ...


def _doc(record: SweepRecord) -> Document:
    return {"_id": record.sweep_id, **record.model_dump(mode="json", exclude={"sweep_id"})}


def _record(doc: Document) -> SweepRecord:
    return SweepRecord.model_validate({**doc, "sweep_id": doc["_id"]})


class MongoSweepStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.sweeps = db["reconcile_sweeps"]
        self.leases = db["reconcile_leases"]
        self.memory = db["reconcile_drift"]

    async def request(self, integration: str, *, dry_run: bool, by: str) -> SweepRecord:
        record = new_request(integration, dry_run=dry_run, by=by)
        await self.sweeps.insert_one(_doc(record))
        return record

    async def get(self, sweep_id: str) -> SweepRecord | None:
        doc = await self.sweeps.find_one({"_id": sweep_id})
        return _record(doc) if doc else None

    async def next_requested(self, integration: str) -> SweepRecord | None:
        query = {"integration": integration, "state": SweepState.REQUESTED.value}
        cursor = self.sweeps.find(query).sort("requested_at", ASCENDING).limit(1)
        docs = await cursor.to_list()
        return _record(docs[0]) if docs else None

    async def start(self, sweep_id: str, owner: str) -> SweepRecord | None:
        """Take a requested sweep (None: another replica took it first)."""
        changes = {"state": SweepState.RUNNING.value, "owner": owner, "started_at": _iso()}
        taken = await self.sweeps.update_one(
            {"_id": sweep_id, "state": SweepState.REQUESTED.value}, {"$set": changes}
        )
        return await self.get(sweep_id) if taken.modified_count else None

    async def progress(self, sweep_id: str, progress: Progress) -> None:
        await self.sweeps.update_one(
            {"_id": sweep_id}, {"$set": {"progress": progress.model_dump(mode="json")}}
        )

    async def save(self, record: SweepRecord) -> None:
        await self.sweeps.replace_one({"_id": record.sweep_id}, _doc(record), upsert=True)

    async def latest(self, integration: str) -> SweepRecord | None:
        query = {"integration": integration, "state": SweepState.DONE.value}
        cursor = self.sweeps.find(query).sort("finished_at", DESCENDING).limit(1)
        docs = await cursor.to_list()
        return _record(docs[0]) if docs else None

    async def calls_since(self, integration: str, since: datetime) -> int:
        query = {"integration": integration, "started_at": {"$gte": _iso(since)}}
        total = 0
        async for doc in self.sweeps.find(query, {"progress.calls": 1}):
            total += int((doc.get("progress") or {}).get("calls", 0))
        return total

    async def lease(self, integration: str, owner: str, seconds: float) -> bool:
        at = time.time()
        try:
            await self.leases.update_one(
                {"_id": integration, "$or": [{"until": {"$lt": at}}, {"owner": owner}]},
                {"$set": {"owner": owner, "until": at + seconds}},
                upsert=True,
            )
        except DuplicateKeyError:  # another replica holds it (the upsert found its record)
            return False
        return True

    async def release(self, integration: str, owner: str) -> None:
        await self.leases.delete_one({"_id": integration, "owner": owner})

    async def drift(self, integration: str) -> dict[str, DriftMemory]:
        found: dict[str, DriftMemory] = {}
        async for doc in self.memory.find({"integration": integration}):
            found[str(doc["customer_id"])] = DriftMemory.model_validate(doc)
        return found

    async def remember(self, integration: str, customer_id: str, memory: DriftMemory) -> None:
        doc = {"integration": integration, "customer_id": customer_id}
        doc.update(memory.model_dump(mode="json"))
        await self.memory.replace_one({"_id": f"{integration}:{customer_id}"}, doc, upsert=True)

    async def forget(self, integration: str, customer_id: str) -> None:
        await self.memory.delete_one({"_id": f"{integration}:{customer_id}"})


def _iso(at: datetime | None = None) -> str:
    """A time as the records store it (pydantic's JSON form), so text comparisons order it."""
    return str(_TIME.dump_python(at or now(), mode="json"))


_TIME: TypeAdapter[datetime] = TypeAdapter(datetime)


class InMemorySweepStore:
    """The fake: the same behaviour, in dicts."""

    def __init__(self) -> None:
        self.records: dict[str, SweepRecord] = {}
        self.leases: dict[str, tuple[str, float]] = {}
        self.memory: dict[tuple[str, str], DriftMemory] = {}

    async def request(self, integration: str, *, dry_run: bool, by: str) -> SweepRecord:
        record = new_request(integration, dry_run=dry_run, by=by)
        self.records[record.sweep_id] = record
        return record

    async def get(self, sweep_id: str) -> SweepRecord | None:
        return self.records.get(sweep_id)

    async def next_requested(self, integration: str) -> SweepRecord | None:
        waiting = [
            r
            for r in self.records.values()
            if r.integration == integration and r.state is SweepState.REQUESTED
        ]
        return min(waiting, key=lambda r: r.requested_at) if waiting else None

    async def start(self, sweep_id: str, owner: str) -> SweepRecord | None:
        record = self.records.get(sweep_id)
        if record is None or record.state is not SweepState.REQUESTED:
            return None
        started = record.model_copy(
            update={"state": SweepState.RUNNING, "owner": owner, "started_at": now()}
        )
        self.records[sweep_id] = started
        return started

    async def progress(self, sweep_id: str, progress: Progress) -> None:
        record = self.records[sweep_id]
        self.records[sweep_id] = record.model_copy(update={"progress": progress})

    async def save(self, record: SweepRecord) -> None:
        self.records[record.sweep_id] = record

    async def latest(self, integration: str) -> SweepRecord | None:
        done = [
            r
            for r in self.records.values()
            if r.integration == integration and r.state is SweepState.DONE
        ]
        return max(done, key=lambda r: r.finished_at or r.requested_at) if done else None

    async def calls_since(self, integration: str, since: datetime) -> int:
        return sum(
            r.progress.calls
            for r in self.records.values()
            if r.integration == integration and r.started_at and r.started_at >= since
        )

    async def lease(self, integration: str, owner: str, seconds: float) -> bool:
        held = self.leases.get(integration)
        at = time.time()
        if held is not None and held[0] != owner and held[1] >= at:
            return False
        self.leases[integration] = (owner, at + seconds)
        return True

    async def release(self, integration: str, owner: str) -> None:
        if self.leases.get(integration, ("", 0.0))[0] == owner:
            del self.leases[integration]

    async def drift(self, integration: str) -> dict[str, DriftMemory]:
        return {cid: m for (name, cid), m in self.memory.items() if name == integration}

    async def remember(self, integration: str, customer_id: str, memory: DriftMemory) -> None:
        self.memory[(integration, customer_id)] = memory

    async def forget(self, integration: str, customer_id: str) -> None:
        self.memory.pop((integration, customer_id), None)
