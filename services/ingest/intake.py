"""Group commit of incoming webhooks: many concurrent requests, one `insert_many`.

The raw event insert is the only store write before the 2xx (it is what makes the 2xx
durable). One insert per request would cap ingest at one store round trip per webhook; instead
every request waiting at the same moment joins one batch, and each learns from that batch's
result whether its event was new or a duplicate (the unique `_id` decides, even when two copies
of one event are in the same batch).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from libs.runtime.logging import get_logger
from libs.runtime.mongo import DUPLICATE_KEY

Document = dict[str, Any]

log = get_logger()


class EventIntake:
    def __init__(
        self,
        events: AsyncCollection[Document],
        unfinished: AsyncCollection[Document],
        *,
        max_batch: int = 500,
    ) -> None:
        self.events = events
        #: one small marker per event not yet published: what the relay scans (see store.py)
        self.unfinished = unfinished
        self.max_batch = max_batch
        self._pending: list[tuple[Document, asyncio.Future[bool]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def record(self, document: Document) -> bool:
        """Store `document`; True once it is stored, False if its `_id` was already there."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush_forever())
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((document, done))
        self._wake.set()
        return await done

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _flush_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._flush(batch)

    async def _flush(self, batch: list[tuple[Document, asyncio.Future[bool]]]) -> None:
        failed: dict[int, BaseException] = {}
        duplicates: set[int] = set()
        try:
            # The marker first: an event stored without one would be invisible to the relay,
            # while a marker without its event (the insert below failed) is dropped by it.
            await insert_ignoring_duplicates(
                self.unfinished,
                [{"_id": doc["_id"], "received_at": doc["received_at"]} for doc, _ in batch],
            )
            await self.events.insert_many([doc for doc, _ in batch], ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                if error.get("code") == DUPLICATE_KEY:
                    duplicates.add(error["index"])
                else:
                    failed[error["index"]] = exc
        except Exception as exc:  # the store is unreachable: every request in the batch fails
            failed = dict.fromkeys(range(len(batch)), exc)
        for index, (_, done) in enumerate(batch):
            if done.done():  # the request went away (client disconnected)
                continue
            if index in failed:
                done.set_exception(failed[index])
            else:
                done.set_result(index not in duplicates)
        if duplicates:
            await self._count_redeliveries([batch[i][0]["_id"] for i in duplicates])

    async def _count_redeliveries(self, event_ids: list[str]) -> None:
        try:
            await self.events.update_many({"_id": {"$in": event_ids}}, {"$inc": {"deliveries": 1}})
        except Exception:  # a lost count is not worth failing anyone's request over
            log.warning("redelivery_count_failed", events=len(event_ids))


async def insert_ignoring_duplicates(
    collection: AsyncCollection[Document], documents: list[Document]
) -> None:
    """Insert many; documents whose `_id` is already there are left as they are."""
    if not documents:
        return
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
            raise
