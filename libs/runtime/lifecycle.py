"""Start-up helpers shared by the services' lifespans."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
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
