"""What every integration does around its own sync: read its section of the mapping at start,
hold one HTTP client to its provider (closed with the worker), key its desired state, and sync:
plan against the ledger and carry the plan out (`ledger.carry_out`). A provider folder adds its
client, plan, read and `execute`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

import httpx
from pydantic import BaseModel

from libs.contracts import CustomerEvent

from .integration import WorkerSettings, desired_key
from .ledger import Ledger, carry_out
from .mapping import load_section
from .worker_metrics import WorkerMetrics

S = TypeVar("S", bound=WorkerSettings)
M = TypeVar("M", bound=BaseModel)


class ProviderIntegration(Generic[S, M]):
    #: the integration's one name: mapping section, metrics, errors, topics
    name: ClassVar[str]
    #: the pydantic model its mapping section must fit
    mapping_model: ClassVar[type[BaseModel]]

    def __init__(
        self,
        settings: S,
        metrics: WorkerMetrics | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        # `transport` lets tests run the client against the sandbox app (or a fake) in-process.
        self.settings = settings
        self.metrics = metrics
        # read now, so a bad file stops the service at start, not at the first event
        self.mapping: M = load_section(settings.mapping_file, self.name, self.mapping_model)
        self._http = self.connect(settings, transport)

    def connect(self, settings: S, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
        """The HTTP client to the provider (base URL and credentials from `settings`)."""
        raise NotImplementedError

    def desired(self, event: CustomerEvent) -> Any:
        """What the provider should hold after `event` (the plan's `Desired`)."""
        raise NotImplementedError

    # --- the sync every integration shares: plan against the ledger, carry the plan out -------

    #: the integration's ledger (a pydantic model with `from_current(desired, current)` and
    #: `current(desired)`: what the provider holds, from a read or from the ledger)
    ledger_model: ClassVar[type[Any]]

    def plan(self, desired: Any, current: Any) -> Sequence[Any]:
        """The integration's pure plan: the actions that make `current` into `desired`."""
        raise NotImplementedError

    async def current_state(self, desired: Any, known: Any = None) -> Any:
        """What the provider holds, read (a replay, an unsettled record, or a customer older
        than the ledger). `known`: the ledger the step cannot believe, if there is one; its
        provider ids may be read by (where a provider's lookups by address lag), never taken
        for what the provider holds."""
        raise NotImplementedError

    async def execute(self, action: Any, desired: Any, book: Any) -> bool:
        """Carry out one action, noting in `book` what it established; True when the answer
        showed the ledger wrong (then corrected in `book`): the rest is planned again."""
        raise NotImplementedError

    async def sync(
        self, event: CustomerEvent, *, dry_run: bool, ledger: Ledger | None = None
    ) -> list[str]:
        desired = self.desired(event)
        ledger = ledger or Ledger(trusted=False)
        book = ledger.load(self.ledger_model)
        if not ledger.trusted:
            known = self.ledger_model.model_validate(ledger.state) if ledger.state else None
            current = await self.current_state(desired, known)
            book = self.ledger_model.from_current(desired, current)
        if dry_run:
            return [str(a) for a in self.plan(desired, book.current(desired))]
        return await carry_out(
            self.name,
            lambda: self.plan(desired, book.current(desired)),
            lambda action: self.execute(action, desired, book),
            lambda: ledger.save(book),
            ledger.before_writes,
        )

    def desired_key(self, event: CustomerEvent) -> str:
        """What `sync` would establish, as a key: the worker skips an unchanged one."""
        return desired_key(self.desired(event))

    async def aclose(self) -> None:
        await self._http.aclose()
