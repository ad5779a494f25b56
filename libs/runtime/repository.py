"""The one compare-and-set every aggregate is written with: `update(id, change)`.

Every record a service owns (a canonical customer, an incident record, a worker's dedupe record,
a timeline) is read, changed by a pure function, and written back only if nobody wrote it in
between; otherwise it is read again and the change redone. FerretDB 1.x has no transactions, so
this is how two writers never both win. The store keeps a `revision` beside each record that grows
on every write; the filter `{_id, revision}` is the compare.

`Repository` is the port; `MongoRepository` the PyMongo adapter and `InMemoryRepository`
(`memory_repository.py`) the fake, for tests of handlers and use cases without servers. Both go
through the same `Codec`, so a fake round-trips records exactly as the store does.

A `Change` is a pure function of the record as read (None: there is none yet) that returns the
record to write; returning the same value (or None) writes nothing. It may run more than once
(after a lost race), so it must not have effects of its own.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from .mongo import DUPLICATE_KEY, ConcurrentUpdate

Document = dict[str, Any]
T = TypeVar("T")

#: compare-and-set attempts before `ConcurrentUpdate` (the message is then handed back)
MAX_CAS_TRIES = 20
#: FerretDB 1.24 stalls on one `update` command with many statements (100 never returned in a
#: probe; 60 took 94 ms), so bulk updates go in chunks of this size
BULK_CHUNK = 40
#: the fields the repository keeps beside the record
REVISION, WRITE_TOKEN = "revision", "_w"

Change = Callable[[T | None], T | None]


class Codec(Protocol[T]):
    """How a record becomes a document and back (without `_id`; `revision` is the store's)."""

    def to_document(self, value: T) -> Document: ...

    def from_document(self, document: Document) -> T: ...


@dataclass(frozen=True)
class Updated(Generic[T]):
    """What an update did: the record as first read, as it stands now, and whether this call
    wrote it (False: the change asked for nothing, or a redo found it already done)."""

    before: T | None
    after: T | None
    written: bool


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    """Records as one read found them, with the revisions a later write compares against."""

    read: dict[str, tuple[T, int]]

    def of(self, record_id: str) -> tuple[T | None, int]:
        """The record as read and its revision; (None, 0) if there was none."""
        found = self.read.get(record_id)
        if found is None:
            return None, 0
        return found

    @property
    def values(self) -> dict[str, T]:
        return {record_id: value for record_id, (value, _) in self.read.items()}


class Repository(Protocol[T]):
    async def get(self, record_id: str) -> T | None: ...

    async def get_many(self, record_ids: Iterable[str]) -> dict[str, T]: ...

    async def snapshot(self, record_ids: Iterable[str]) -> Snapshot[T]:
        """One read of many records, to decide on and then hand to `update_many`."""
        ...

    async def update(
        self, record_id: str, change: Change[T], snapshot: Snapshot[T] | None = None
    ) -> Updated[T]:
        """`snapshot`: the caller's read; the first attempt writes from it without reading
        again (absent from it: there is no record yet)."""
        ...

    async def update_many(
        self, changes: Mapping[str, Change[T]], snapshot: Snapshot[T] | None = None
    ) -> dict[str, Updated[T]]:
        """`snapshot`: what the caller already read (not read again); a record written by
        someone since loses its write and is redone alone."""
        ...


def changed(before: T | None, after: T | None) -> bool:
    return after is not None and after != before


async def compare_and_set(
    record_id: str,
    change: Change[T],
    snapshot: Snapshot[T] | None,
    read: Callable[[str], Awaitable[tuple[T | None, int]]],
    write: Callable[[str, T, int], Awaitable[bool]],
) -> Updated[T]:
    """The loop every adapter's `update` is: read (the first time from `snapshot`, if handed
    one), change, write if the revision still holds, else read again and redo."""
    first: T | None = None
    for attempt in range(MAX_CAS_TRIES):
        if attempt == 0 and snapshot is not None:
            current, revision = snapshot.of(record_id)
        else:
            current, revision = await read(record_id)
        if attempt == 0:
            first = current
        after = change(current)
        if not changed(current, after):
            return Updated(first, current, written=False)
        assert after is not None
        if await write(record_id, after, revision):
            return Updated(first, after, written=True)
        await asyncio.sleep(0)
    raise ConcurrentUpdate(record_id)


class MongoRepository(Generic[T]):
    """One collection, one record per `_id`, written by compare-and-set on `revision`."""

    def __init__(self, collection: AsyncCollection[Document], codec: Codec[T]) -> None:
        self.collection, self.codec = collection, codec

    async def _read(self, record_id: str) -> tuple[T | None, int]:
        doc = await self.collection.find_one({"_id": record_id})
        if doc is None:
            return None, 0
        return self.codec.from_document(doc), int(doc.get(REVISION, 0))

    async def get(self, record_id: str) -> T | None:
        return (await self._read(record_id))[0]

    async def snapshot(self, record_ids: Iterable[str]) -> Snapshot[T]:
        ids = sorted(set(record_ids))
        if not ids:
            return Snapshot({})
        found = self.collection.find({"_id": {"$in": ids}}, batch_size=max(len(ids), 1))
        return Snapshot(
            {
                str(doc["_id"]): (self.codec.from_document(doc), int(doc.get(REVISION, 0)))
                async for doc in found
            }
        )

    async def get_many(self, record_ids: Iterable[str]) -> dict[str, T]:
        return (await self.snapshot(record_ids)).values

    def _fields(self, value: T, revision: int, token: str | None = None) -> Document:
        fields = self.codec.to_document(value)
        fields.pop("_id", None)
        fields[REVISION] = revision
        if token is not None:
            fields[WRITE_TOKEN] = token
        return fields

    async def _write(self, record_id: str, value: T, revision: int) -> bool:
        """One compare-and-set; False if another writer got there first."""
        if revision == 0:
            try:
                await self.collection.insert_one({"_id": record_id, **self._fields(value, 1)})
            except DuplicateKeyError:
                # there, but written before records kept a revision (it read as 0): claim it
                result = await self.collection.update_one(
                    {"_id": record_id, "$or": [{REVISION: {"$exists": False}}, {REVISION: 0}]},
                    {"$set": self._fields(value, 1)},
                )
                return result.matched_count == 1
            return True
        result = await self.collection.update_one(
            {"_id": record_id, REVISION: revision}, {"$set": self._fields(value, revision + 1)}
        )
        return result.matched_count == 1

    async def update(
        self, record_id: str, change: Change[T], snapshot: Snapshot[T] | None = None
    ) -> Updated[T]:
        return await compare_and_set(record_id, change, snapshot, self._read, self._write)

    async def update_many(
        self, changes: Mapping[str, Change[T]], snapshot: Snapshot[T] | None = None
    ) -> dict[str, Updated[T]]:
        """Many records at once: one read (none when handed a `snapshot`), one insert of new
        records, bulk compare-and-sets in chunks; a record whose write lost to another writer
        is redone alone with `update` (its change is pure, so redoing it is safe). On FerretDB
        an update costs ~6 ms alone but ~2 ms inside a bulk write, which is what makes batches
        worth it."""
        read = (snapshot or await self.snapshot(changes)).read
        token = secrets.token_hex(8)
        results: dict[str, Updated[T]] = {}
        inserts: list[Document] = []
        updates: list[UpdateOne] = []
        for record_id, change in changes.items():
            current, revision = read.get(record_id, (None, 0))
            after = change(current)
            if not changed(current, after):
                results[record_id] = Updated(current, current, written=False)
                continue
            assert after is not None
            results[record_id] = Updated(current, after, written=True)
            if revision == 0:
                inserts.append({"_id": record_id, **self._fields(after, 1, token)})
            else:
                updates.append(
                    UpdateOne(
                        {"_id": record_id, REVISION: revision},
                        {"$set": self._fields(after, revision + 1, token)},
                    )
                )
        all_won = True
        if inserts:
            try:
                await self.collection.insert_many(inserts, ordered=False)
            except BulkWriteError as exc:  # some were created meanwhile: judged below
                if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                    raise
                all_won = False
        for start in range(0, len(updates), BULK_CHUNK):
            chunk = updates[start : start + BULK_CHUNK]
            written = await self.collection.bulk_write(chunk, ordered=False)
            all_won = all_won and written.matched_count == len(chunk)
        # Every compare matched: every write is ours (a later write by someone else compared
        # against ours, so it lost nothing). Only otherwise is it worth reading back which lost.
        if not all_won:
            await self._redo_lost(changes, results, token)
        return results

    async def _redo_lost(
        self, changes: Mapping[str, Change[T]], results: dict[str, Updated[T]], token: str
    ) -> None:
        """A write won if the record carries this batch's token; any other was lost (or
        overwritten since) and is redone alone, judged against what the batch first read."""
        written = sorted(i for i, r in results.items() if r.written)
        found = self.collection.find(
            {"_id": {"$in": written}}, {WRITE_TOKEN: 1}, batch_size=max(len(written), 1)
        )
        ours = {str(doc["_id"]) async for doc in found if doc.get(WRITE_TOKEN) == token}
        for record_id in written:
            if record_id in ours:
                continue
            redo = await self.update(record_id, changes[record_id])
            results[record_id] = Updated(results[record_id].before, redo.after, redo.written)
