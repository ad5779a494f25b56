"""How a worker takes in its customer events: read by the consumers, held in the step queue
(latest state wins, revocations first: `step_queue.py`), and committed in each partition's
order once done (`offset_tracker.py`)."""

from __future__ import annotations

from datetime import timedelta

from faststream.kafka import KafkaMessage

from libs.contracts import CustomerEvent, SyncOutcome, has_access

from .clock import now
from .integration import WorkerSettings
from .logging import get_logger
from .offset_tracker import OffsetTracker
from .pacing import Pacer
from .step_queue import Settle, StepQueue
from .worker import WorkerLoop

log = get_logger()

#: a step expected to wait longer than this for its provider calls is reported as `waiting`,
#: with the estimate (the status API tells the buyer); shorter waits are not worth a message
REPORT_WAIT_SECONDS = 20.0
#: until this many events are done, a purchase's two events are assumed to cost one call each
WARMUP_EVENTS = 20


def expected_wait(ahead: int, calls_per_event: float, rate: float) -> float:
    """Seconds until an event with `ahead` held events before it (itself included) gets its
    calls, at `rate` calls a second (0: unpaced, no wait)."""
    return ahead * calls_per_event / rate if rate > 0 else 0.0


def revokes(event: CustomerEvent) -> bool:
    """An access removal (refund, cancel, dispute, failed payment past the grace period): it
    goes ahead of other customers' grants."""
    return not has_access(event.lifecycle)


class HeldEvents:
    def __init__(
        self, loop: WorkerLoop, settings: WorkerSettings, pacer: Pacer | None = None
    ) -> None:
        self.loop = loop
        self.pacer = pacer
        self.done = 0  # events settled, for the calls-per-event estimate
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
        settle = self.offsets.track(msg)
        await self.queue.put(event, self._counted(settle))
        self.count()
        await self.report_wait(event)

    def _counted(self, settle: Settle) -> Settle:
        async def counted() -> None:
            self.done += 1
            await settle()
            self.count()

        return counted

    async def report_wait(self, event: CustomerEvent) -> None:
        """Tell ingest (and so the buyer's status) when a step will wait on the provider's rate
        limit: the events ahead of it, times the calls an event costs, over the paced rate."""
        if self.pacer is None or not self.pacer.rate:
            return
        if self.queue.holding(event.customer_id) > 1:
            return  # the customer's first held event reported already: one report per wait
        per_event = self.pacer.sent_total / self.done if self.done >= WARMUP_EVENTS else 1.0
        wait = expected_wait(self.queue.ahead_of(revokes(event)), per_event, self.pacer.rate)
        if wait < REPORT_WAIT_SECONDS:
            return
        steps = self.loop.steps
        result = steps.result(event, SyncOutcome.WAITING).model_copy(
            update={"expected_at": now() + timedelta(seconds=wait)}
        )
        try:
            await steps.publish(steps.results_topic, event.customer_id, result.to_bytes())
        except Exception as exc:  # a progress report: the step's own outcome is what counts
            log.warning("waiting_report_failed", integration=self.loop.name, error=str(exc))

    def count(self) -> None:
        held = self.loop.metrics.held
        held.labels(self.loop.name, "urgent").set(self.queue.held_urgent)
        held.labels(self.loop.name, "normal").set(self.queue.held - self.queue.held_urgent)

    async def stop(self, grace: float) -> None:
        """Start nothing new; steps in progress finish within `grace`; the rest stays
        uncommitted for the partitions' next owner."""
        await self.queue.stop(grace)
