"""Ingest's consumer of `sync.results.v1`: keeps each customer's per-integration status, and when
the last enabled integration confirms a paid customer, moves it to active and publishes that."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from faststream.kafka import KafkaRouter

from libs.contracts import SYNC_RESULTS, Lifecycle, SyncResult
from libs.runtime.consuming import decode_batch_as
from libs.runtime.logging import get_logger

from .canonical import CanonicalCustomer
from .consumers import ingest_consumer, subscriber_options
from .customers import CustomerRepository
from .outbox import OutboxPublisher
from .outcomes import confirmed_earlier, with_results
from .settings import IngestSettings

log = get_logger()

#: results taken from Kafka at once
RESULTS_BATCH = 400


def _with_results(
    customer: CanonicalCustomer | None, results: list[SyncResult], enabled: tuple[str, ...]
) -> CanonicalCustomer | None:
    return with_results(customer, results, enabled) if customer is not None else None


async def record_results(
    results: Sequence[SyncResult],
    enabled: tuple[str, ...],
    customers: CustomerRepository,
    publisher: OutboxPublisher,
) -> None:
    """Each customer is read once, all its results applied in order, and written back in one
    bulk compare-and-set; a write lost to another writer is redone alone (applying a result
    again changes nothing). Whether paid → active happened is judged against what this batch
    read, so the confirmation is not missed when a later write made ours look lost; a batch
    redelivered after a crash publishes the confirmation it cut short."""
    by_customer: dict[str, list[SyncResult]] = {}
    for result in results:
        by_customer.setdefault(result.customer_id, []).append(result)
    updated = await customers.update_many(
        {
            cid: partial(_with_results, results=mine, enabled=enabled)
            for cid, mine in by_customer.items()
        }
    )
    for customer_id, outcome in updated.items():
        before, after = outcome.before, outcome.after
        if before is None or after is None:
            log.warning("result_for_unknown_customer", customer_id=customer_id)
            continue
        moved = before.lifecycle is Lifecycle.PAID and after.lifecycle is Lifecycle.ACTIVE
        if moved or confirmed_earlier(after, by_customer[customer_id]):
            await publisher.confirm(after)


def results_router(
    settings: IngestSettings, customers: CustomerRepository, publisher: OutboxPublisher
) -> KafkaRouter:
    enabled = tuple(settings.enabled_integrations)
    # In batches: every result of a customer in a batch costs one read and one write together
    # (one per result, before, so a backlog of results made the status API lag minutes behind
    # the providers). The batch is committed after its effect; redone, it changes nothing.
    router, group = ingest_consumer(settings, "result", "results")

    @router.subscriber(
        SYNC_RESULTS,
        **subscriber_options(group),
        batch=True,
        max_records=RESULTS_BATCH,
        batch_timeout_ms=100,
        decoder=decode_batch_as(SyncResult, "result"),
        title=f"ingest:{SYNC_RESULTS}",
        description=f"Consumer group `{group}`, in batches: ingest keeps each customer's "
        "per-integration status from every outcome.",
    )
    async def on_sync_results(results: list[SyncResult]) -> None:
        if results:
            await record_results(results, enabled, customers, publisher)

    return router
