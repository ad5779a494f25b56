"""Ingest's consumer of `support.incidents.v1`: the customer's `needs_support` flag follows
support's open incidents.

The flag is saved on the canonical record (compare-and-set, like every other write) without a
new `version`: no downstream system acts on it, and a new version would send every worker
against the integration that is failing right now (a second failure, and a replay of the failed
step would then be stale). The status API shows the flag at once, and the next customer event
carries it.
"""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from libs.contracts import SUPPORT_INCIDENTS, IncidentChanged, IncidentStatus
from libs.runtime.consuming import decode_as
from libs.runtime.logging import get_logger

from .canonical import CanonicalCustomer
from .consumers import ingest_consumer, subscriber_options
from .customers import CustomerRepository
from .settings import IngestSettings

log = get_logger()

#: open incidents remembered per customer (one per integration at most, in practice)
_OPEN_LIMIT = 20


def apply_incident(customer: CanonicalCustomer, change: IncidentChanged) -> CanonicalCustomer:
    """Pure: the customer with the incident added to or removed from its open ones."""
    open_ids = tuple(i for i in customer.open_incidents if i != change.incident_id)
    if change.status is IncidentStatus.OPEN:
        open_ids = (*open_ids, change.incident_id)[-_OPEN_LIMIT:]
    return customer.model_copy(update={"open_incidents": open_ids, "needs_support": bool(open_ids)})


async def record_incident(change: IncidentChanged, customers: CustomerRepository) -> None:
    updated = await customers.update(
        change.customer_id, lambda customer: apply_incident(customer, change) if customer else None
    )
    if updated.before is None:
        log.warning("incident_for_unknown_customer", customer_id=change.customer_id)
        return
    if updated.after != updated.before:
        log.info(
            "needs_support_changed",
            customer_id=change.customer_id,
            integration=change.integration,
            incident_id=change.incident_id,
            needs_support=updated.after.needs_support if updated.after else None,
        )


def incidents_router(settings: IngestSettings, customers: CustomerRepository) -> KafkaRouter:
    router, group = ingest_consumer(settings, SUPPORT_INCIDENTS, "incidents")

    @router.subscriber(
        SUPPORT_INCIDENTS,
        **subscriber_options(group),
        decoder=decode_as(IncidentChanged),
        title=f"ingest:{SUPPORT_INCIDENTS}",
        description=f"Consumer group `{group}`: ingest marks a customer `needs_support` while "
        "an incident is open.",
    )
    async def on_incident_changed(change: IncidentChanged) -> None:
        await record_incident(change, customers)

    return router
