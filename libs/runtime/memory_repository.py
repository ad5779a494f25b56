"""The in-memory fake of `repository.Repository`: the same compare-and-set over documents held
in a dict, through the same codec, so handler tests hold exactly what the store would."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Generic

from .repository import (
    REVISION,
    Change,
    Codec,
    Document,
    Snapshot,
    T,
    Updated,
    compare_and_set,
)


class InMemoryRepository(Generic[T]):
    """The fake: the same compare-and-set over documents held in a dict. `interfere`, when set,
    runs before each write, so a test can play the other writer that makes a write lose."""

    def __init__(self, codec: Codec[T]) -> None:
        self.codec = codec
        self.documents: dict[str, Document] = {}
        self.writes = 0
        self.interfere: Callable[[str], None] | None = None

    def _read(self, record_id: str) -> tuple[T | None, int]:
        doc = self.documents.get(record_id)
        if doc is None:
            return None, 0
        return self.codec.from_document(copy.deepcopy(doc)), int(doc[REVISION])

    async def get(self, record_id: str) -> T | None:
        return self._read(record_id)[0]

    async def snapshot(self, record_ids: Iterable[str]) -> Snapshot[T]:
        found = {i: self._read(i) for i in set(record_ids)}
        return Snapshot({i: (v, r) for i, (v, r) in found.items() if v is not None})

    async def get_many(self, record_ids: Iterable[str]) -> dict[str, T]:
        return (await self.snapshot(record_ids)).values

    def put(self, record_id: str, value: T) -> None:
        """Write unconditionally (a test's setup, or the other writer of `interfere`)."""
        revision = self._read(record_id)[1]
        fields = self.codec.to_document(value)
        fields.pop("_id", None)
        self.documents[record_id] = {"_id": record_id, **fields, REVISION: revision + 1}

    async def _write(self, record_id: str, value: T, revision: int) -> bool:
        if self.interfere is not None:
            self.interfere(record_id)
        if self._read(record_id)[1] != revision:
            return False
        self.put(record_id, value)
        self.writes += 1
        return True

    async def _aread(self, record_id: str) -> tuple[T | None, int]:
        return self._read(record_id)

    async def update(
        self, record_id: str, change: Change[T], snapshot: Snapshot[T] | None = None
    ) -> Updated[T]:
        return await compare_and_set(record_id, change, snapshot, self._aread, self._write)

    async def update_many(
        self, changes: Mapping[str, Change[T]], snapshot: Snapshot[T] | None = None
    ) -> dict[str, Updated[T]]:
        results = {record_id: await self.update(record_id, c) for record_id, c in changes.items()}
        if snapshot is None:
            return results
        # judged against what the caller read, as the store's adapter does
        return {i: Updated(snapshot.values.get(i), r.after, r.written) for i, r in results.items()}
