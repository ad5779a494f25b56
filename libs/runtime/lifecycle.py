"""Start-up helpers shared by the services' lifespans."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from faststream.kafka import KafkaBroker

from .logging import get_logger

log = get_logger()


async def start_broker_when_reachable(broker: KafkaBroker, retry_seconds: float = 2.0) -> None:
    """Keep trying to start the broker: a service must come up even while Kafka is down."""
    while True:
        try:
            await broker.start()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("kafka_unreachable", error=type(exc).__name__, retry_in=retry_seconds)
            with contextlib.suppress(Exception):
                await broker.stop()
            await asyncio.sleep(retry_seconds)
        else:
            log.info("kafka_connected")
            return


async def when_store_reachable(
    step: Callable[[], Awaitable[Any]], what: str, retry_seconds: float = 2.0
) -> None:
    """Run a start-up step against the store, retrying until it answers: a service comes up
    (and answers `503 store_unavailable`) even while the store is down, instead of crashing
    into a restart loop."""
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("store_unreachable", step=what, error=type(exc).__name__)
            await asyncio.sleep(retry_seconds)
        else:
            return


async def every(seconds: float, work: Callable[[], Awaitable[Any]], *, failed: str) -> None:
    """Run `work` now and then every `seconds`, for the app's life (a background loop). A round
    that fails (the store away for a while) is logged as `failed` and the next one retries."""
    while True:
        try:
            await work()
        except Exception as exc:
            log.warning(failed, error=type(exc).__name__)
        await asyncio.sleep(seconds)


@contextlib.asynccontextmanager
async def background(*coros: Coroutine[Any, Any, Any]) -> AsyncIterator[list[asyncio.Task[Any]]]:
    """Run coroutines for the lifetime of the block; cancel them on exit."""
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
