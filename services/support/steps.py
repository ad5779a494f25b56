"""The failed steps' changes: recorded once per failure, moved between statuses (failed →
replayed → synced or superseded), all through the steps port's compare-and-set."""

from __future__ import annotations

from typing import Any

from libs.contracts import SyncFailure
from libs.runtime.clock import now

from .incidents import FailureFacts
from .ports import REPLAYABLE, REPLAYED, FailedSteps, Step, step_id


def failed_step(failure: SyncFailure, facts: FailureFacts, status: str) -> Step:
    return {
        "_id": step_id(failure.integration, failure.event_id),
        "failure_key": facts.key,
        "customer_id": failure.customer_id,
        "integration": failure.integration,
        "event_id": failure.event_id,
        "event_type": facts.event_type,
        "version": facts.version,
        "action": failure.action,
        "attempts": failure.attempts,
        "error": failure.error.model_dump(mode="json"),
        "first_attempt_at": failure.first_attempt_at,
        "failed_at": failure.failed_at,
        "status": status,
        "event": failure.event.model_dump(mode="json"),
    }


async def record_failure(steps: FailedSteps, step: Step) -> bool:
    """Record a failed step, or update it for a new failure of the same step; False if this
    exact failure (same key: a redelivery) was recorded already."""
    at = now()

    def change(current: Step | None) -> Step | None:
        if current is None:
            return {**step, "replays": 0, "recorded_at": at}
        if current.get("failure_key") == step["failure_key"]:
            return current
        return {**current, **step}

    return (await steps.update(step["_id"], change)).written


async def set_status(
    steps: FailedSteps,
    ids: list[str],
    status: str,
    *,
    only_from: tuple[str, ...] = REPLAYABLE,
    max_version: int | None = None,
    **fields: Any,
) -> int:
    """Move these steps to `status` — those now in `only_from` and no newer than `max_version`;
    how many moved."""
    if not ids:
        return 0
    at = now()

    def change(current: Step | None) -> Step | None:
        if current is None or current.get("status") not in only_from:
            return current
        version = current.get("version")
        if max_version is not None and (version is None or version > max_version):
            return current
        return {**current, "status": status, "status_at": at, **fields}

    done = await steps.update_many({i: change for i in ids})
    return sum(1 for u in done.values() if u.written)


async def mark_replayed(steps: FailedSteps, step: Step, replay_id: str) -> None:
    at = now()

    def change(current: Step | None) -> Step | None:
        if current is None:
            return None
        return {
            **current,
            "status": REPLAYED,
            "replay_id": replay_id,
            "replayed_at": at,
            "replays": int(current.get("replays", 0)) + 1,
        }

    await steps.update(step["_id"], change)
