"""Gather single calls from concurrent callers into batch calls: `Batcher(flush, max_items=...,
max_wait=...)`, then `await batcher.submit(item)` from each caller.

Why: a provider with a batch endpoint (HubSpot's contacts upsert takes 100 inputs) charges one
call of its rate limit per batch, so 100 customers synced in the same moment cost one call instead
of 100. The first item of a batch opens a short window; the batch goes when it holds `max_items`
or the window ends, whichever comes first, and the next item opens a new batch while the earlier
one is still being sent. `max_wait <= 0` or `max_items == 1` turns gathering off.

Order: a batch carries items of many callers in no promised order. Each caller keeps its own
order by awaiting its result before it submits its next item (a worker never has two calls of one
customer in flight), so gathering never reorders one customer's writes.

`flush` answers one result or exception per item, in the items' order; each caller gets its own
(`submit` raises it). If `flush` itself raises (a 429 or a 5xx on the whole call), every item of
that batch gets a copy of that exception. A caller cancelled while it waits leaves the others
alone (its item is dropped if the batch has not gone yet).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

I = TypeVar("I")  # noqa: E741 (the item)
R = TypeVar("R")


class Batcher(Generic[I, R]):
    def __init__(
        self,
        flush: Callable[[list[I]], Awaitable[list[R | BaseException]]],
        *,
        max_items: int,
        max_wait: float,
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self._flush = flush
        self._max_items = max_items
        self._max_wait = max_wait
        self._open: list[tuple[I, asyncio.Future[R]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._closed = False

    async def submit(self, item: I) -> R:
        """Add `item` to the open batch; its own result once the batch is answered."""
        if self._closed:
            raise RuntimeError("the batcher is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._open.append((item, future))
        if len(self._open) >= self._max_items or self._max_wait <= 0:
            self._send()
        elif self._timer is None:
            self._timer = loop.call_later(self._max_wait, self._send)
        # a cancelled caller cancels only its own future: the batch and the others carry on
        return await future

    async def aclose(self) -> None:
        """Send the open batch and wait for every batch in flight."""
        self._closed = True
        self._send()
        await asyncio.gather(*self._sending, return_exceptions=True)

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch = [(item, future) for item, future in self._open if not future.done()]
        self._open = []
        if batch:
            task = asyncio.get_running_loop().create_task(self._answer(batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _answer(self, batch: list[tuple[I, asyncio.Future[R]]]) -> None:
        futures = [future for _, future in batch]
        try:
            results = await self._flush([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"flush answered {len(results)} results for {len(batch)} items")
        except asyncio.CancelledError:
            for future in futures:
                future.cancel()
            raise
        except Exception as exc:
            results = [_copy(exc) for _ in batch]
        for future, result in zip(futures, results, strict=True):
            if future.done():  # its caller was cancelled meanwhile
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)


def _copy(exc: Exception) -> BaseException:
    """One exception object per caller: callers annotate what they catch (the integration sets
    `error.action`), and one object raised in many tasks would mix their notes and tracebacks."""
    try:
        clone = type(exc).__new__(type(exc), *exc.args)
        clone.__dict__.update(exc.__dict__)
    except Exception:
        return exc
    clone.__cause__, clone.__context__ = exc.__cause__, exc.__context__
    clone.__suppress_context__ = exc.__suppress_context__
    return clone.with_traceback(exc.__traceback__)
