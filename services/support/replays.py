"""Support's replays: a failed step sent again, alone or every one in a window, to its
integration's replay topic with a fresh `replay_id`; the worker runs it like any event."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from faststream.kafka import KafkaBroker

from libs.contracts import CustomerEvent, replay_topic
from libs.runtime.broker import key
from libs.runtime.http import ApiError
from libs.runtime.logging import email_hash, get_logger

from . import steps
from .metrics import SupportMetrics
from .ports import FAILED, REPLAYABLE, FailedSteps, Step, step_id

log = get_logger()

WINDOW_LIMIT = 1000


@dataclass(frozen=True)
class Replayed:
    integration: str
    event_id: str
    customer_id: str
    replay_id: str


class Replays:
    def __init__(
        self,
        failed_steps: FailedSteps,
        broker: KafkaBroker,
        metrics: SupportMetrics,
        integrations: list[str],
    ) -> None:
        self.steps = failed_steps
        self.broker = broker
        self.metrics = metrics
        self.integrations = integrations

    def check_integration(self, integration: str) -> None:
        if integration not in self.integrations:
            raise ApiError(
                422,
                "unknown_integration",
                f"integration must be one of: {', '.join(self.integrations)}",
            )

    async def replay_one(self, integration: str, event_id: str) -> Replayed:
        self.check_integration(integration)
        step = await self.steps.get(step_id(integration, event_id))
        if step is None:
            raise ApiError(
                404, "step_not_found", f"no failed {integration} step for event {event_id}"
            )
        if step["status"] not in REPLAYABLE:
            newer = f" (by {step['superseded_by']})" if step.get("superseded_by") else ""
            raise ApiError(
                409,
                "not_replayable",
                f"this step is {step['status']}{newer}; only failed steps are replayed",
            )
        replayed = await self._replay(step, "one")
        return replayed

    async def replayable_in_window(
        self, integration: str, since: datetime, until: datetime
    ) -> list[Step]:
        self.check_integration(integration)
        if until <= since:
            raise ApiError(422, "invalid_window", "`until` must be after `since`")
        return await self.steps.listed(
            integration=integration,
            since=since,
            until=until,
            statuses=(FAILED,),
            limit=WINDOW_LIMIT,
        )

    async def replay_window(
        self, integration: str, since: datetime, until: datetime
    ) -> list[Replayed]:
        steps = await self.replayable_in_window(integration, since, until)
        # Oldest first, so one customer's steps reach the worker in the order they failed.
        steps.sort(key=lambda s: s["failed_at"])
        return [await self._replay(step, "window") for step in steps]

    async def _replay(self, step: Step, scope: str) -> Replayed:
        replay_id = "rpl_" + secrets.token_hex(8)
        event = CustomerEvent.model_validate(step["event"]).model_copy(
            update={"replay_id": replay_id}
        )
        name = step["integration"]
        await self.broker.publish(
            event.to_bytes(),
            replay_topic(name),
            key=key(event.customer_id),
            headers={"content-type": "application/json", "event_id": event.event_id},
        )
        await steps.mark_replayed(self.steps, step, replay_id)
        self.metrics.replays.labels(name, scope).inc()
        log.info(
            "step_replayed",
            event_id=event.event_id,
            customer_id=event.customer_id,
            email_hash=email_hash(event.email),
            integration=name,
            replay_id=replay_id,
            scope=scope,
        )
        return Replayed(name, event.event_id, event.customer_id, replay_id)
