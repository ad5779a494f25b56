"""Publishing what the event log holds to `customer.events.v1`, keyed by customer, and the
outbox records of changes Switchboard makes itself (the paid → active confirmation).

A message may be published twice (a crash between the publish and its record), which the
workers' version check makes harmless; never zero times: what Kafka refuses stays `applied`
and the relay publishes it later.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from faststream.kafka import KafkaBroker

from libs.contracts import CUSTOMER_EVENTS, Source
from libs.runtime.broker import key
from libs.runtime.clock import now
from libs.runtime.logging import get_logger

from .canonical import CanonicalCustomer, customer_event
from .event_log import EventLog, Outbox, internal_document, outbox_message
from .metrics import IngestMetrics
from .outcomes import confirmation_id

log = get_logger()


class OutboxPublisher:
    def __init__(
        self,
        broker: KafkaBroker,
        events: EventLog,
        metrics: IngestMetrics,
        on_failure: Callable[[], None],
    ) -> None:
        self.broker, self.events, self.metrics = broker, events, metrics
        #: Kafka refused a message: the relay should look soon
        self.on_failure = on_failure
        self._background: set[asyncio.Task[None]] = set()

    async def publish(self, event_id: str, outbox: Outbox | str, *, path: str) -> bool:
        """Publish one message; False if Kafka did not take it."""
        message = outbox_message(outbox)
        try:
            await self.broker.publish(
                json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode(),
                CUSTOMER_EVENTS,
                key=key(message["customer_id"]),
                headers={"content-type": "application/json", "event_id": event_id},
            )
        except Exception as exc:
            self.metrics.publish_errors.inc()
            self.on_failure()
            log.warning("publish_failed", event_id=event_id, error=type(exc).__name__, path=path)
            return False
        self.metrics.published.labels(path).inc()
        return True

    async def publish_many(
        self, items: Sequence[tuple[str, Outbox | str]], *, path: str
    ) -> list[bool]:
        """Publish a batch's messages at once; the results say which Kafka took, in order."""
        return list(
            await asyncio.gather(*(self.publish(eid, outbox, path=path) for eid, outbox in items))
        )

    async def confirm(self, customer: CanonicalCustomer) -> None:
        """Publish the `active` follow-up of this version once (it may have been already)."""
        if await self.events.get(confirmation_id(customer)) is None:
            await self.publish_internal(customer, "integrations.confirmed")

    async def publish_internal(self, customer: CanonicalCustomer, event_type: str) -> None:
        """A change Switchboard made itself goes through the same outbox as a webhook's."""
        event_id = confirmation_id(customer)
        source = Source(
            provider="switchboard", event_id=event_id, event_type=event_type, occurred_at=now()
        )
        outbox = customer_event(customer, source).model_dump(mode="json")
        document = internal_document(event_id, event_type, customer.customer_id, outbox)
        if await self.events.add_internal(document):
            self._spawn(self._publish_and_mark(event_id, outbox))
        log.info("customer_confirmed", customer_id=customer.customer_id, version=customer.version)

    async def _publish_and_mark(self, event_id: str, outbox: Outbox) -> None:
        if await self.publish(event_id, outbox, path="inline"):
            await self.events.mark_published([event_id])

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self, wait_seconds: float = 10.0) -> None:
        """Let inline publishes finish (on shutdown); the relay covers any that do not."""
        if self._background:
            await asyncio.wait(self._background, timeout=wait_seconds)
