"""The apply stage: moves customers for stored webhooks, in batches, behind the 2xx; a single
event is a batch of one.

A request only stores the raw event (see `intake.py`) and queues it here. The stage takes
whatever is queued, up to `max_batch` events, and for all of them at once does one identity
read, one customer read, one insert of identities, one bulk compare-and-set of customers (new
ones inserted), the Kafka publishes gathered, one write of the outcomes. On FerretDB/SQLite an
update costs ~6 ms alone but ~2 ms inside a bulk write, which is where the throughput comes from.

A change the identities do not settle (`pipeline.needs_lookup`, or no customer found) is
resolved alone (`resolve.py`, which may ask the Stripe API) and then applied as a batch of one,
as are the changes of a customer whose identity claim lost to another replica. The queue is
bounded; an event that finds it full, or that a crash dropped, is still stored as `received`,
and the relay (which reads `work_left`) brings it back here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from libs.contracts.identity import checkout_key, email_key, is_checkout_session_id
from libs.runtime.clock import now
from libs.runtime.logging import get_logger

from .customers import CustomerRepository, new_customer_id
from .event_log import EventLog
from .normalize import StripeChange, normalize
from .outbox import OutboxPublisher
from .pipeline import (
    EventOutcome,
    Folded,
    Seed,
    assign_owners,
    by_owner,
    fold_all,
    fold_customer,
    keys,
    log_applied,
    needs_lookup,
)
from .resolve import resolve_customer
from .stripe_api import StripeApi
from .work_left import WorkLeft

log = get_logger()


class ApplyStage:
    def __init__(
        self,
        customers: CustomerRepository,
        events: EventLog,
        publisher: OutboxPublisher,
        stripe: StripeApi,
        work_left: WorkLeft,
        *,
        max_queue: int = 20_000,
        max_batch: int = 200,
    ) -> None:
        self.customers, self.events, self.publisher, self.stripe = (
            customers,
            events,
            publisher,
            stripe,
        )
        self.work_left = work_left
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(max_queue)
        #: ids queued or being applied here, so the relay does not queue them a second time
        self.in_flight: set[str] = set()

    def submit(self, event_id: str, body: dict[str, Any]) -> bool:
        """Queue a stored event; False (and work noted for the relay) if the queue is full."""
        if event_id in self.in_flight:
            return True
        try:
            self._queue.put_nowait((event_id, body))
        except asyncio.QueueFull:
            self.work_left.note()
            return False
        self.in_flight.add(event_id)
        return True

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    async def drain(self, wait_seconds: float = 10.0) -> None:
        """On shutdown, finish what is queued and publishing; whatever is left, the next relay
        pass finds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), wait_seconds)
        await self.publisher.drain(wait_seconds)

    async def run_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self.apply_batch([body for _, body in batch])
            except asyncio.CancelledError:
                raise
            except Exception:
                # Still `received` in the store: the relay retries them after its delay.
                self.work_left.note()
                log.exception("apply_batch_failed", events=len(batch))
            finally:
                self.in_flight.difference_update(event_id for event_id, _ in batch)
                for _ in batch:
                    self._queue.task_done()

    async def apply_batch(self, bodies: Sequence[dict[str, Any]]) -> None:
        changes = [normalize(body) for body in bodies]
        fast = [c for c in changes if not needs_lookup(c)]
        known = await self.customers.find(k for c in fast for k in keys(c))
        owners = assign_owners(fast, known, new_customer_id)
        held = await self.customers.claim(owners.claims)
        # a customer whose identity another replica claimed first is redone alone, found anew
        lost = {owner for k, owner in owners.claims.items() if held.get(k) != owner}
        resolved = [(c, owner) for c, owner in owners.resolved if owner not in lost]
        await self._apply(resolved, {}, path="batch")
        lost_changes = [c for c, owner in owners.resolved if owner in lost]
        for change in [c for c in changes if needs_lookup(c)] + owners.unresolved + lost_changes:
            await self._apply_alone(change)

    async def _apply_alone(self, change: StripeChange) -> None:
        try:
            found = await resolve_customer(change, self.customers, self.stripe)
            if found is None:
                log.warning("customer_unresolved", event_id=change.event_id, type=change.event_type)
                unresolved = EventOutcome(change, None, "unresolved", None)
                await self.events.finish([unresolved.finished(False)], now())
                return
            await self._apply(
                [(change, found.customer_id)], {found.customer_id: found.seed}, path="one"
            )
        except Exception:  # e.g. the Stripe API is down: still `received`, the relay retries
            self.work_left.note()
            log.exception("apply_failed", event_id=change.event_id, outcome="deferred")

    async def _apply(
        self, resolved: list[tuple[StripeChange, str]], seeds: dict[str, Seed], *, path: str
    ) -> None:
        """Fold each customer's changes and write them with one compare-and-set each; the
        outcomes recorded are those of the fold that was written (a lost write is redone
        against the record as it then stands)."""
        if not resolved:
            return
        grouped = by_owner(resolved)
        snapshot = await self.customers.snapshot(grouped)
        read = snapshot.values
        # Pure CPU work on batch-local state; in a thread, so the GIL's switch interval lets the
        # event loop answer waiting webhooks every few ms instead of after the whole batch.
        folded = await asyncio.to_thread(fold_all, read, grouped, seeds)

        def change_of(owner: str) -> Any:
            def change(current: Any) -> Any:
                if current is not read.get(owner):  # written since the batch read it: redo
                    folded[owner] = fold_customer(current, owner, grouped[owner], seeds.get(owner))
                return folded[owner][0]

            return change

        await self.customers.update_many({o: change_of(o) for o in grouped}, snapshot)
        for outcome in (o for _, outcomes in folded.values() for o in outcomes):
            if outcome.change.previous_email and outcome.change.email and outcome.customer_id:
                await self.customers.move(
                    email_key(outcome.change.previous_email),
                    email_key(outcome.change.email),
                    outcome.customer_id,
                )
        await self._record_checkouts(folded)
        await self._publish_and_finish(folded, path)

    async def _record_checkouts(self, folded: dict[str, Folded]) -> None:
        """Each completed Checkout Session points at its buyer from now on (insert-once, so a
        redelivery keeps the first time): the app's status lookup, `checkout_status.py`. After
        the customer is written, so the key never points at a customer that is not there."""
        sessions = {
            checkout_key(session): outcome.customer_id
            for _, outcomes in folded.values()
            for outcome in outcomes
            if (session := outcome.change.checkout_session_id)
            and is_checkout_session_id(session)
            and outcome.customer_id
        }
        if sessions:
            await self.customers.claim(sessions)

    async def _publish_and_finish(self, folded: dict[str, Folded], path: str) -> None:
        applied_at = now()  # the state is written; the workers may answer before we record it
        done = [o for _, outcomes in folded.values() for o in outcomes]
        due = [(o.change.event_id, o.outbox) for o in done if o.outbox is not None]
        taken = await self.publisher.publish_many(due, path=path)
        published = {eid for (eid, _), ok in zip(due, taken, strict=True) if ok}
        await self.events.finish(
            [o.finished(o.change.event_id in published) for o in done], applied_at
        )
        for outcome in done:
            log_applied(outcome, folded[outcome.customer_id or ""][0], path=path)
