"""Who the reconcile benchmark seeds: N paying customers as a synced worker left them, and which
of them a person drifts by hand before the sweep. Pure: no I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from libs.contracts import Lifecycle

#: one customer in this many canceled (the rest active): ~10 % canceled
CANCELED_EVERY: Final = 10


@dataclass(frozen=True)
class BenchCustomer:
    index: int
    customer_id: str
    email: str
    name: str
    lifecycle: Lifecycle
    #: a purchase is version 1; a cancellation after it version 2
    version: int
    #: a person changes this customer by hand in every provider before the sweep
    drifted: bool = False


def population(n: int, drift: float, run_id: str) -> list[BenchCustomer]:
    """`n` customers (ids in index order, as the sweep reads them), every CANCELED_EVERY-th
    canceled; `round(n * drift)` of the active ones, spread evenly, drifted."""
    people = []
    for i in range(n):
        canceled = i % CANCELED_EVERY == CANCELED_EVERY - 1
        people.append(
            BenchCustomer(
                index=i,
                customer_id=f"cust_rb{run_id}{i:06d}",
                email=f"rb.{run_id}.{i:06d}@example.com",
                name=f"Bench Customer{i}",
                lifecycle=Lifecycle.CANCELED if canceled else Lifecycle.ACTIVE,
                version=2 if canceled else 1,
            )
        )
    active = [c for c in people if c.lifecycle is Lifecycle.ACTIVE]
    wanted = min(len(active), round(n * drift))
    if wanted <= 0:
        return people
    step = len(active) / wanted
    chosen = {active[int(k * step)].index for k in range(wanted)}
    return [replace(c, drifted=True) if c.index in chosen else c for c in people]
