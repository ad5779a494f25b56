"""`CustomerEvent`s for worker tests: the whole desired state, as ingest would publish it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from libs.contracts import CustomerEvent, Lifecycle, Source


def customer_event(
    email: str,
    lifecycle: Lifecycle | str = Lifecycle.PAID,
    *,
    version: int = 1,
    customer_id: str = "cus_test",
    products: tuple[str, ...] = (),
    name: str | None = "Jane Doe",
    previous_emails: tuple[str, ...] = (),
) -> CustomerEvent:
    event_id = f"evt_{uuid.uuid4().hex[:16]}"
    return CustomerEvent(
        event_id=event_id,
        customer_id=customer_id,
        version=version,
        email=email,
        previous_emails=previous_emails,
        name=name,
        lifecycle=Lifecycle(lifecycle),
        products=products,
        source=Source(
            event_id=event_id,
            event_type="checkout.session.completed",
            occurred_at=datetime.now(UTC),
        ),
    )
