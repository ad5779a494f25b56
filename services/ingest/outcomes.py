"""Worker outcomes applied to the canonical customer, and the paid → active confirmation they
lead to. Pure."""

from __future__ import annotations

from libs.contracts import Lifecycle, SyncOutcome, SyncResult

from .canonical import CanonicalCustomer, apply_result


def with_results(
    customer: CanonicalCustomer, results: list[SyncResult], enabled: tuple[str, ...]
) -> CanonicalCustomer:
    """The customer after these worker outcomes, in order (pure)."""
    for r in results:
        customer, _ = apply_result(
            customer,
            r.integration,
            r.outcome,
            r.version,
            r.event_id,
            r.error.message if r.error else None,
            r.at,
            enabled,
            r.attempts,
            r.expected_at,
        )
    return customer


def confirmation_id(customer: CanonicalCustomer) -> str:
    return f"sb_{customer.customer_id}_v{customer.version}"


def confirmed_earlier(customer: CanonicalCustomer, results: list[SyncResult]) -> bool:
    """The customer is active, and these results confirm the version just before: the batch is
    a redelivery of the one that moved it, whose publish a crash or an outage may have cut
    short (`_confirm` publishes it if so, once)."""
    return customer.lifecycle is Lifecycle.ACTIVE and any(
        r.outcome is SyncOutcome.SYNCED and r.version == customer.version - 1 for r in results
    )
