"""Support's effects: what an incident record calls for, carried out and ticked off one by one
(announce the incident on Kafka, create the Zendesk ticket, comment, solve). An effect that
cannot be done now stays pending on the record for the sweeper; a 429 from Zendesk pauses every
call for as long as it asks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from faststream.kafka import KafkaBroker

from libs.contracts import SUPPORT_INCIDENTS, CustomerEvent, IncidentChanged
from libs.runtime.broker import key
from libs.runtime.clock import now
from libs.runtime.errors import ProviderAuthError, ProviderError
from libs.runtime.logging import get_logger

from . import tickets
from .incidents import (
    Effect,
    Incident,
    IncidentRecord,
    pending_effects,
    record_id,
    replace_incident,
)
from .metrics import SupportMetrics
from .ports import Records, step_id
from .zendesk import ZendeskClient

log = get_logger()

ZENDESK_PAUSE_DEFAULT_SECONDS = 10.0
ZENDESK_PAUSE_MAX_SECONDS = 300.0


def zendesk_pause_seconds(error: ProviderError) -> float:
    """A 429 pauses every Zendesk call (the limit is per account, not per ticket) for the
    `Retry-After` it named; other errors pause nothing."""
    if error.status != 429:
        return 0.0
    wanted = error.retry_after if error.retry_after is not None else ZENDESK_PAUSE_DEFAULT_SECONDS
    return min(max(wanted, 0.0), ZENDESK_PAUSE_MAX_SECONDS)


class TicketEffects:
    def __init__(
        self,
        records: Records,
        zendesk: ZendeskClient,
        broker: KafkaBroker,
        metrics: SupportMetrics,
        *,
        console_url: str,
    ) -> None:
        self.records = records
        self.zendesk = zendesk
        self.broker = broker
        self.metrics = metrics
        self.console_url = console_url
        #: monotonic time before which Zendesk is not called (it answered 429)
        self.zendesk_paused_until = 0.0

    async def run_effects(self, customer_id: str, integration: str) -> None:
        """Carry out what the record still calls for; whatever fails stays pending."""
        if time.monotonic() < self.zendesk_paused_until:
            return  # Zendesk asked us to wait: the sweeper carries these out afterwards
        record = await self.records.incidents.get(record_id(customer_id, integration))
        if record is None:
            return
        for incident in record.incidents:
            for effect in pending_effects(incident):
                try:
                    await self._do(effect, record, incident)
                except ProviderError as exc:
                    kind = (
                        "auth"
                        if isinstance(exc, ProviderAuthError)
                        else ("transient" if exc.retryable else "permanent")
                    )
                    self.metrics.zendesk_errors.labels(effect.value, kind).inc()
                    pause = zendesk_pause_seconds(exc)
                    if pause:
                        self.zendesk_paused_until = time.monotonic() + pause
                    log.warning(
                        "effect_failed",
                        customer_id=customer_id,
                        integration=integration,
                        incident_id=incident.incident_id,
                        action=effect.value,
                        status=exc.status,
                        error=exc.code,
                        outcome=kind,
                    )
                    if kind == "permanent":
                        await self._give_up(record, incident, effect, exc)
                    return  # the rest waits for the sweeper
                except Exception as exc:  # Kafka or our store: the sweeper tries again
                    log.warning(
                        "effect_failed",
                        customer_id=customer_id,
                        integration=integration,
                        action=effect.value,
                        error=type(exc).__name__,
                    )
                    return
                record = await self.records.incidents.get(record.record_id) or record
                incident = next(
                    (i for i in record.incidents if i.incident_id == incident.incident_id),
                    incident,
                )

    async def _do(self, effect: Effect, record: IncidentRecord, incident: Incident) -> None:
        cid, name = record.customer_id, record.integration
        if effect is Effect.ANNOUNCE:
            message = IncidentChanged(
                incident_id=incident.incident_id,
                customer_id=cid,
                integration=name,
                status=incident.status,
                at=now(),
            )
            await self.broker.publish(
                message.to_bytes(),
                SUPPORT_INCIDENTS,
                key=key(cid),
                headers={"content-type": "application/json"},
            )
            status = incident.status
            await self._update(record, incident.incident_id, lambda i: {"announced": status})
        elif effect is Effect.CREATE_TICKET:
            await self._create_ticket(record, incident)
        elif effect is Effect.COMMENT:
            for facts in incident.pending_comments:
                await self.zendesk.add_comment(
                    _ticket_id(incident), tickets.comment_body(facts, name)
                )
                self.metrics.ticket_comments.labels(name).inc()
                await self._update(record, incident.incident_id, _comment_posted(facts.key))
        elif effect is Effect.SOLVE_TICKET:
            await self.zendesk.solve(_ticket_id(incident), tickets.resolution_note(incident, name))
            self.metrics.tickets_solved.labels(name).inc()
            solved_at = now()
            await self._update(
                record,
                incident.incident_id,
                lambda i: {"ticket_status": "solved", "ticket_solved_at": solved_at},
            )
            log.info(
                "ticket_solved",
                customer_id=cid,
                integration=name,
                incident_id=incident.incident_id,
                ticket_id=incident.ticket_id,
            )

    async def _create_ticket(self, record: IncidentRecord, incident: Incident) -> None:
        name = record.integration
        external = tickets.external_id(incident.incident_id)
        existing = await self.zendesk.find_by_external_id(external)
        if existing is None:
            step = await self.records.steps.get(step_id(name, incident.first.event_id))
            if step is None:
                raise LookupError(f"failed step {incident.first.event_id} not recorded yet")
            event = CustomerEvent.model_validate(step["event"])
            body = tickets.ticket_request(incident, event, name, self.console_url)
            existing = await self.zendesk.create_ticket(
                body, tickets.idempotency_key(incident.incident_id)
            )
            self.metrics.tickets_created.labels(name).inc()
        ticket_id = int(existing["id"])
        created_at = now()
        await self._update(
            record,
            incident.incident_id,
            lambda i: {
                "ticket_id": ticket_id,
                "ticket_status": "open",
                "ticket_created_at": i.ticket_created_at or created_at,
            },
        )
        log.info(
            "ticket_created",
            customer_id=record.customer_id,
            integration=name,
            incident_id=incident.incident_id,
            ticket_id=ticket_id,
            event_id=incident.first.event_id,
        )

    async def _give_up(
        self, record: IncidentRecord, incident: Incident, effect: Effect, exc: ProviderError
    ) -> None:
        """A permanent Zendesk error: retrying cannot help. Say so on the record, move on."""
        reason = f"{exc.code}: {tickets.redact(exc.message)}"[:300]
        if effect is Effect.CREATE_TICKET:
            await self._update(record, incident.incident_id, lambda i: {"ticket_error": reason})
        elif effect is Effect.COMMENT:
            await self._update(record, incident.incident_id, lambda i: {"pending_comments": ()})
        elif effect is Effect.SOLVE_TICKET:
            await self._update(
                record, incident.incident_id, lambda i: {"ticket_status": "solve_failed"}
            )

    async def _update(
        self,
        record: IncidentRecord,
        incident_id: str,
        change: Callable[[Incident], dict[str, Any]],
    ) -> None:
        """Change one incident of the record as it stands now (not as this effect read it)."""

        def on_record(current: IncidentRecord | None) -> IncidentRecord | None:
            if current is None:
                return None
            found = next((i for i in current.incidents if i.incident_id == incident_id), None)
            if found is None:
                return current
            return replace_incident(current, found.model_copy(update=change(found)))

        await self.records.incidents.update(record.record_id, on_record)


def _comment_posted(done: str) -> Callable[[Incident], dict[str, Any]]:
    def change(incident: Incident) -> dict[str, Any]:
        return {
            "pending_comments": tuple(c for c in incident.pending_comments if c.key != done),
            "comments_posted": incident.comments_posted + 1,
        }

    return change


def _ticket_id(incident: Incident) -> int:
    assert incident.ticket_id is not None
    return incident.ticket_id
