"""Ingest's request path: accept a webhook.

The order gives the delivery guarantee: the raw event is stored before the 2xx, then queued to
the apply stage (`apply_stage.py`), which moves the customer, publishes, and records the
outcome; the relay (`relay.py`) finishes whatever a crash, a full queue or a Kafka outage left.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .apply_stage import ApplyStage
from .event_log import event_document
from .intake import EventIntake
from .normalize import NotAStripeEvent, parse_event


@dataclass(frozen=True)
class Accepted:
    event_id: str
    event_type: str
    duplicate: bool


class IngestService:
    def __init__(self, intake: EventIntake, stage: ApplyStage) -> None:
        self.intake, self.stage = intake, stage

    async def accept(self, raw: bytes) -> Accepted:
        """Store a verified webhook and queue it to be applied; the store write is what makes the
        2xx durable. Raises `NotAStripeEvent` for a bad body."""
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise NotAStripeEvent("the body is not JSON") from None
        event_id, event_type, created, _ = parse_event(body)
        if not await self.intake.record(
            event_document(event_id, event_type, created, raw.decode())
        ):
            return Accepted(event_id, event_type, duplicate=True)
        # a full queue is fine: the stage notes work left, and the relay brings it back
        self.stage.submit(event_id, body)
        return Accepted(event_id, event_type, duplicate=False)

    async def drain(self, wait_seconds: float = 10.0) -> None:
        """Let queued applies and publishes finish (on shutdown); the relay covers any that do
        not."""
        await self.stage.drain(wait_seconds)
