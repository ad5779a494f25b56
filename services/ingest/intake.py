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

from .event_log import Document, EventLog


class EventIntake:
    def __init__(self, events: EventLog, *, max_batch: int = 500) -> None:
        self.events = events
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
        try:
            added = await self.events.add([doc for doc, _ in batch])
        except Exception as exc:  # the store is unreachable: every request in the batch fails
            added = [exc] * len(batch)
        for outcome, (_, done) in zip(added, batch, strict=True):
            if done.done():  # the request went away (client disconnected)
                continue
            if isinstance(outcome, Exception):
                done.set_exception(outcome)
            else:
                done.set_result(outcome)
