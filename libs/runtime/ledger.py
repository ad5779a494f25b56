"""The ledger: what a worker has established in its provider, per customer.

Provider calls are rationed (Kit 120 per minute, Circle 5,000 a month), and reading a provider
before every write spent most of them: a purchase cost 2.5 to 4 times the least the APIs need. So
each worker remembers, beside its dedupe record (one read and one write per event already), what
its own confirmed writes established: provider ids, the groups, tags or properties it set. Plans
are computed against that, and a customer never seen is written first (create and upsert calls
answer with the record, or say it exists). The provider is read only when a write's answer shows
the ledger is wrong (a member that is gone, one that existed already); the ledger is then
corrected from what the provider said.

The ledger is trusted only when it comes from this worker's own history: a replay (an operator
asks to make the provider right whatever we believe), a customer whose record predates the
ledger, and a record a step left unsettled (it began writing and never recorded what it did:
`Ledger.before_writes` marks the record before the first call) read the provider first. Drift
made by others is found by the reconcile sweep.

The integration owns the shape (a pydantic model per provider); the runtime stores it as JSON,
opaque, in the dedupe record, written with the outcome and before the offset commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from .errors import PermanentProviderError, ProviderError

A = TypeVar("A")
T = TypeVar("T")
B = TypeVar("B", bound=BaseModel)

#: how often one step may find the ledger wrong and plan again before it gives up (a ticket)
MAX_CORRECTIONS = 2


@dataclass
class Ledger:
    """A customer's ledger for one step: read from the record, updated after every confirmed
    write (so a step that fails midway still records what it did), stored with the outcome."""

    state: dict[str, Any] = field(default_factory=dict)
    #: False: read the provider before planning (a replay, a customer older than the ledger, or
    #: a record an interrupted step left unsettled)
    trusted: bool = True
    #: awaited once before the step's first provider write: the worker marks its record
    #: unsettled there, so a step that dies between a call and its record is not believed
    before_writes: Callable[[], Awaitable[None]] | None = field(
        default=None, repr=False, compare=False
    )

    def load(self, model: type[B]) -> B:
        return model.model_validate(self.state) if self.trusted else model()

    def save(self, book: BaseModel) -> None:
        self.state = book.model_dump(mode="json")


class BeforeWritesFailed(Exception):
    """`Ledger.before_writes` failed (our store, not the provider): nothing was written to the
    provider, and the step is handed back like any failure of our own infrastructure."""


async def carry_out(
    integration: str,
    plan_now: Callable[[], Sequence[A]],
    execute: Callable[[A], Awaitable[bool]],
    save: Callable[[], None],
    before_writes: Callable[[], Awaitable[None]] | None = None,
) -> list[str]:
    """Run the plan's actions in order, saving the ledger after each. An action whose answer
    showed the ledger wrong corrects it and returns True: the rest is planned again from the
    corrected ledger (at most `MAX_CORRECTIONS` times, then the step fails into a ticket).
    `before_writes` is awaited once, before the first action; a plan of nothing skips it."""
    done: list[str] = []
    actions, corrections = list(plan_now()), 0
    if actions and before_writes is not None:
        try:
            await before_writes()
        except Exception as exc:
            raise BeforeWritesFailed(type(exc).__name__) from exc
    while actions:
        action = actions.pop(0)
        try:
            corrected = await attempt(action, execute(action))
        finally:
            save()
        done.append(str(action))
        if corrected:
            corrections += 1
            if corrections > MAX_CORRECTIONS:
                raise PermanentProviderError(
                    integration,
                    "the provider kept disagreeing with what was just written",
                    code="ledger_conflict",
                )
            actions = list(plan_now())
    save()  # also when nothing was to do: what a read established is known now
    return done


async def attempt(action: object, call: Awaitable[T]) -> T:
    """Await `call`; a provider error it raises names `action` (the failure's and the metrics'
    action), so a ticket says which step of the plan failed."""
    try:
        return await call
    except ProviderError as error:
        error.action = str(action)
        raise
