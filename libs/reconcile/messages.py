"""The messages a sweep sends: a repair step (the customer's current state, marked `repair`, on
the worker's replay topic) and a drift failure (support's incident path). No I/O."""

from __future__ import annotations

from libs.contracts import CustomerEvent, ErrorInfo, Source, SyncFailure
from libs.runtime.clock import now

from .judge import Verdict
from .ports import KnownCustomer
from .records import SweepRecord
from .store import DriftMemory


def repair_event(known: KnownCustomer, sweep_id: str) -> CustomerEvent:
    assert known.event is not None
    event_id = f"reconcile:{sweep_id}:{known.customer_id}"
    source = Source(
        provider="switchboard", event_id=event_id, event_type="reconcile.repair", occurred_at=now()
    )
    return known.event.model_copy(
        update={"event_id": event_id, "replay_id": sweep_id, "repair": True, "source": source}
    )


def drift_failure(
    record: SweepRecord, known: KnownCustomer, verdict: Verdict, memo: DriftMemory
) -> SyncFailure:
    event = repair_event(known, record.sweep_id)
    kinds = ", ".join(sorted(verdict.kinds))
    message = (
        f"reconcile found {kinds} again after the repair queued at "
        f"{memo.repaired_at:%Y-%m-%d %H:%M} UTC ({', '.join(memo.actions)}) ran; "
        f"still needs: {', '.join(verdict.actions)}"
    )
    return SyncFailure(
        event_id=event.event_id,
        customer_id=known.customer_id,
        integration=record.integration,
        action="reconcile:" + ",".join(verdict.actions),
        attempts=1,
        error=ErrorInfo(code="drift_persists", message=message[:900], retryable=False),
        first_attempt_at=memo.first_found_at,
        failed_at=now(),
        event=event,
        kind="drift",
    )
