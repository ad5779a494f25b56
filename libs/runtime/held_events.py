"""How a worker takes in its customer events: read by the consumers, held in the step queue
(latest state wins, revocations first: `step_queue.py`), and committed in each partition's
order once done (`offset_tracker.py`)."""

from __future__ import annotations

from faststream.kafka import KafkaMessage

from libs.contracts import CustomerEvent, has_access

from .integration import WorkerSettings
from .offset_tracker import OffsetTracker
from .step_queue import StepQueue
from .worker import WorkerLoop


def revokes(event: CustomerEvent) -> bool:
    """An access removal (refund, cancel, dispute, failed payment past the grace period): it
    goes ahead of other customers' grants."""
    return not has_access(event.lifecycle)


class HeldEvents:
    def __init__(self, loop: WorkerLoop, settings: WorkerSettings) -> None:
        self.loop = loop
        self.offsets = OffsetTracker()
        self.queue: StepQueue[CustomerEvent] = StepQueue(
            loop.run_held,
            key=lambda event: event.customer_id,
            urgent=revokes,
            parallel=settings.parallel_steps,
            capacity=settings.held_events,
        )

    async def take(self, event: CustomerEvent, msg: KafkaMessage) -> None:
        """Hold a decoded event; its offset is committed once it (and all before it) is done."""
        settle, owned = self.offsets.track(msg)
        await self.queue.put(event, settle, owned)
        self.count()

    def count(self) -> None:
        held = self.loop.metrics.held
        held.labels(self.loop.name, "urgent").set(self.queue.held_urgent)
        held.labels(self.loop.name, "normal").set(self.queue.held - self.queue.held_urgent)

    async def stop(self, grace: float) -> None:
        """Start nothing new; steps in progress finish within `grace`; the rest stays
        uncommitted for the partitions' next owner."""
        await self.queue.stop(grace)
