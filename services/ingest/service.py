"""Ingest's use cases: accept a webhook, apply it to the canonical customer, publish the result.

The order gives the delivery guarantee: the raw event is stored before the 2xx, the customer is
moved and the outgoing message written into the same event record (the outbox) before anything
is published, and the relay (`relay.py`) finishes whatever a crash or a Kafka outage left behind.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from faststream.kafka import KafkaBroker

from libs.contracts import CUSTOMER_EVENTS, Lifecycle, Source, SyncResult
from libs.contracts.identity import email_key, stripe_key
from libs.runtime.broker import key
from libs.runtime.clock import now
from libs.runtime.logging import email_hash, get_logger
from libs.runtime.mongo import ConcurrentUpdate

from .canonical import (
    CanonicalCustomer,
    apply_change,
    customer_event,
    stripe_source,
)
from .intake import EventIntake
from .metrics import IngestMetrics
from .normalize import NotAStripeEvent, StripeChange, normalize, parse_event, stripe_id_of
from .outcomes import confirmation_id, confirmed_earlier, with_results
from .store import MAX_CAS_TRIES, IngestStore, new_customer_id
from .stripe_api import StripeApi

log = get_logger()


class Stage(Protocol):
    def submit(self, event_id: str, body: dict[str, Any]) -> bool: ...

    async def drain(self, wait_seconds: float = 10.0) -> None: ...


@dataclass(frozen=True)
class Accepted:
    event_id: str
    event_type: str
    duplicate: bool


def log_applied(
    event_id: str, customer: CanonicalCustomer, change: StripeChange, outcome: str, *, path: str
) -> None:
    log.info(
        "webhook_applied",
        event_id=event_id,
        customer_id=customer.customer_id,
        email_hash=email_hash(customer.email),
        type=change.event_type,
        lifecycle=customer.lifecycle,
        version=customer.version,
        outcome=outcome,
        path=path,
    )


class IngestService:
    def __init__(
        self,
        store: IngestStore,
        intake: EventIntake,
        broker: KafkaBroker,
        stripe: StripeApi,
        metrics: IngestMetrics,
    ) -> None:
        self.store = store
        self.intake = intake
        #: where stored events go to be applied (`apply_stage.ApplyStage`, set by `main`)
        self.stage: Stage | None = None
        #: something is known to be left unfinished (a failed publish or apply, a full queue):
        #: the relay should look now rather than at its next sweep
        self.unfinished_hint = False
        self.broker = broker
        self.stripe = stripe
        self.metrics = metrics
        self._background: set[asyncio.Task[None]] = set()

    # --- accept -------------------------------------------------------------------------------

    async def accept(self, raw: bytes) -> Accepted:
        """Store a verified webhook and queue it to be applied; the store write is what makes the
        2xx durable. Raises `NotAStripeEvent` for a bad body."""
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise NotAStripeEvent("the body is not JSON") from None
        event_id, event_type, created, _ = parse_event(body)
        document = self.store.event_document(event_id, event_type, created, raw.decode())
        if not await self.intake.record(document):
            return Accepted(event_id, event_type, duplicate=True)
        if self.stage is not None and not self.stage.submit(event_id, body):
            self.unfinished_hint = True  # a full queue is fine: the relay finds it later
        return Accepted(event_id, event_type, duplicate=False)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self, wait_seconds: float = 10.0) -> None:
        """Let queued applies and inline publishes finish (on shutdown); the relay covers any
        that do not."""
        if self.stage is not None:
            await self.stage.drain(wait_seconds)
        if self._background:
            await asyncio.wait(self._background, timeout=wait_seconds)

    # --- apply --------------------------------------------------------------------------------

    async def apply(self, event_id: str, body: dict[str, Any]) -> str | None:
        """Move the customer for this event; return the outbox message, or None if none is due."""
        change = normalize(body)
        customer_id = await self.resolve_customer(change)
        if customer_id is None:
            await self.store.mark_applied(event_id, None, "unresolved", None)
            log.warning("customer_unresolved", event_id=event_id, type=change.event_type)
            return None
        for _ in range(MAX_CAS_TRIES):
            customer = await self.store.load_customer(customer_id)
            if customer is None:  # identity claimed, record not yet written (crash in between)
                await self.store.ensure_customer(
                    customer_id, change.email or "", change.stripe_customer_id
                )
                continue
            if event_id in customer.recent_event_ids:
                # Applied before a crash: publish what the customer is now.
                return await self._finish(event_id, customer, change, "applied", changed=True)
            applied = apply_change(customer, change)
            try:
                await self.store.save_customer(customer, applied.customer)
            except ConcurrentUpdate:
                continue
            if change.previous_email and change.email:
                await self.store.move_identity(
                    email_key(change.previous_email),
                    email_key(change.email),
                    customer_id,
                )
            return await self._finish(
                event_id, applied.customer, change, applied.outcome, changed=applied.changed
            )
        raise ConcurrentUpdate(customer_id)

    async def _finish(
        self,
        event_id: str,
        customer: CanonicalCustomer,
        change: StripeChange,
        outcome: str,
        *,
        changed: bool,
    ) -> str | None:
        if not change.handled:
            outcome = "ignored"
        outbox = None
        if changed:
            outbox = customer_event(customer, stripe_source(change)).to_bytes().decode()
        await self.store.mark_applied(event_id, customer.customer_id, outcome, outbox)
        log_applied(event_id, customer, change, outcome, path="one")
        return outbox

    async def resolve_customer(self, change: StripeChange) -> str | None:
        """One internal customer per Stripe customer; what the event lacks, Stripe is asked."""
        stripe_id, email = change.stripe_customer_id, change.email
        if change.previous_email and stripe_id:
            found = await self.store.find_customer_id(stripe_customer_id=stripe_id, email=None)
            if found:
                return found
        found = await self.store.find_customer_id(stripe_customer_id=stripe_id, email=email)
        if found:
            if stripe_id:
                await self.store.claim_identity(stripe_key(stripe_id), found)
            return found
        if not stripe_id and change.charge_id:
            charge = await self.stripe.charge(change.charge_id) or {}
            stripe_id = stripe_id_of(charge.get("customer"))
            email = email or (charge.get("billing_details") or {}).get("email")
        if stripe_id and not email:
            found = await self.store.find_customer_id(stripe_customer_id=stripe_id, email=None)
            if found:
                return found
            email = (await self.stripe.customer(stripe_id) or {}).get("email")
        if not email:
            return None
        found = await self.store.find_customer_id(stripe_customer_id=stripe_id, email=email)
        if found:
            return found
        return await self._create_customer(email, stripe_id)

    async def _create_customer(self, email: str, stripe_id: str | None) -> str:
        owner = new_customer_id()
        if stripe_id:
            owner = await self.store.claim_identity(stripe_key(stripe_id), owner)
        owner = await self.store.claim_identity(email_key(email), owner)
        await self.store.ensure_customer(owner, email, stripe_id)
        return owner

    # --- worker outcomes -----------------------------------------------------------------------

    async def record_results(self, results: list[SyncResult], enabled: tuple[str, ...]) -> None:
        """Keep each integration's status; when the last enabled one confirms, paid → active.
        Each customer is read once, all its results applied in order, and written back in one
        bulk compare-and-set; a customer whose write lost to another writer is redone alone
        with its own compare-and-set loop (applying a result again changes nothing)."""
        by_customer: dict[str, list[SyncResult]] = {}
        for result in results:
            by_customer.setdefault(result.customer_id, []).append(result)
        loaded = await self.store.load_customers(set(by_customer))
        pairs: list[tuple[CanonicalCustomer, CanonicalCustomer]] = []
        for customer_id, mine in by_customer.items():
            before = loaded.get(customer_id)
            if before is None:
                log.warning("result_for_unknown_customer", customer_id=customer_id)
                continue
            after = with_results(before, mine, enabled)
            if after != before:
                pairs.append((before, after))
            elif confirmed_earlier(after, mine):
                await self._confirm(after)  # a redelivery: the write was made, its publish not
        lost = await self.store.save_customers(pairs) if pairs else set()
        for before, after in pairs:
            if before.customer_id in lost:
                # "lost" may also mean another write came after ours: judge the redo's result
                # against what this batch read, so the confirmation is not missed either way
                redo = partial(
                    with_results, results=by_customer[before.customer_id], enabled=enabled
                )
                written = await self.store.update_customer(before.customer_id, redo)
                if written is None:
                    continue
                after = written[1]
            moved = before.lifecycle is Lifecycle.PAID and after.lifecycle is Lifecycle.ACTIVE
            if moved or confirmed_earlier(after, by_customer[before.customer_id]):
                await self._confirm(after)

    async def _confirm(self, customer: CanonicalCustomer) -> None:
        """Publish the `active` follow-up of this version once (it may have been already)."""
        if await self.store.get_event(confirmation_id(customer)) is None:
            await self._publish_internal(customer, "integrations.confirmed")

    async def _publish_internal(self, customer: CanonicalCustomer, event_type: str) -> None:
        """A change Switchboard made itself goes through the same outbox as a webhook's."""
        event_id = confirmation_id(customer)
        source = Source(
            provider="switchboard",
            event_id=event_id,
            event_type=event_type,
            occurred_at=now(),
        )
        outbox = customer_event(customer, source).to_bytes().decode()
        if await self.store.record_internal(event_id, event_type, customer.customer_id, outbox):
            self._spawn(self.publish(event_id, outbox, path="inline"))
        log.info("customer_confirmed", customer_id=customer.customer_id, version=customer.version)

    # --- publish ------------------------------------------------------------------------------

    async def publish_many(self, items: list[tuple[str, str]], path: str = "batch") -> list[bool]:
        """Publish a batch's messages; the results say which Kafka took, in order."""
        results = await asyncio.gather(
            *(self.publish(eid, outbox, path=path, mark=False) for eid, outbox in items)
        )
        return list(results)

    async def publish(self, event_id: str, outbox: str, *, path: str, mark: bool = True) -> bool:
        customer_id = json.loads(outbox)["customer_id"]
        try:
            await self.broker.publish(
                outbox.encode(),
                CUSTOMER_EVENTS,
                key=key(customer_id),
                headers={"content-type": "application/json", "event_id": event_id},
            )
        except Exception as exc:
            self.metrics.publish_errors.inc()
            self.unfinished_hint = True
            log.warning("publish_failed", event_id=event_id, error=type(exc).__name__, path=path)
            return False
        if mark:
            await self.store.mark_published([event_id])
        self.metrics.published.labels(path).inc()
        return True
