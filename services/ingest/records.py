"""How ingest's records look in the store: a canonical customer as a document, the part of it
a lost-write check compares, and one event's outcome as the batch path records it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from libs.runtime.clock import now

from .canonical import CanonicalCustomer

Document = dict[str, Any]


def integration_steps(customer: CanonicalCustomer) -> dict[str, tuple[str, int, str | None]]:
    """Each integration's status without its time (the store keeps milliseconds only)."""
    return {n: (s.status, s.version, s.event_id) for n, s in customer.integrations.items()}


def customer_fields(customer: CanonicalCustomer, revision: int) -> Document:
    fields = customer.model_dump(mode="python", exclude={"customer_id"})
    fields.update(email_lower=customer.email.lower(), updated_at=now(), revision=revision)
    return fields


@dataclass(frozen=True)
class Finished:
    """One event's outcome, as the batch path records it."""

    event_id: str
    customer_id: str | None
    outcome: str
    outbox: str | None
    published: bool
