"""Asking the workers for sweeps and following them to their end, through the sweeps store
only: a worker replica takes a `requested` record, moves it to `running` with progress, and
finishes it `done` (with its summary and findings), `failed` or `skipped` (with a reason).
Nothing else connects the command to the workers, so this works wherever the store is
reachable, and any store with the `SweepStore` API (the in-memory fake in tests) will do."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pymongo.errors import PyMongoError

from libs.reconcile.records import SweepRecord, SweepState
from libs.reconcile.store import SweepStore
from libs.runtime.clock import now

POLL_SECONDS = 0.5
START_TIMEOUT_SECONDS = 30.0
TIMEOUT_SECONDS = 1800.0
#: how long the store may stay unreachable while a sweep is followed (a FerretDB restart, say)
#: before the command gives up following; the sweep itself goes on in the worker
STORE_PATIENCE_SECONDS = 30.0
#: the reason on a request no worker started in time, which the command then closes itself
NOBODY_TOOK_IT = "nobody took it"
#: ... and on one the command withdrew when it was interrupted (Ctrl-C)
WITHDRAWN = "withdrawn: the command that asked for it was interrupted"
#: how long withdrawing may hold up an interrupted command
WITHDRAW_SECONDS = 5.0
#: `requested_by` of the command's requests, and the owner it takes an abandoned one as
BY = "cli"


@dataclass(frozen=True)
class Followed:
    """How one integration's sweep ended, as far as the command is concerned."""

    record: SweepRecord
    #: None: the sweep finished `done`; otherwise what to tell the user (exit 1)
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _ignore(_: SweepRecord) -> None:
    return None


async def follow_sweeps(
    store: SweepStore,
    integrations: Sequence[str],
    *,
    dry_run: bool,
    start_timeout: float = START_TIMEOUT_SECONDS,
    give_up_after: float = TIMEOUT_SECONDS,
    poll_seconds: float = POLL_SECONDS,
    store_patience: float = STORE_PATIENCE_SECONDS,
    on_update: Callable[[SweepRecord], None] = _ignore,
) -> list[Followed]:
    """Request one sweep per integration (all before following any, so they run side by side)
    and poll them until each has ended, in the order of `integrations`. A store error on the
    requests propagates (nothing is running yet); while following, one is ridden out for
    `store_patience` seconds."""
    records: dict[str, SweepRecord] = {}
    limits = _Limits(start_timeout, give_up_after)
    ended: dict[str, Followed] = {}
    try:
        for name in integrations:
            records[name] = await store.request(name, dry_run=dry_run, by=BY)
            on_update(records[name])
        await _poll(store, records, ended, limits, poll_seconds, store_patience, on_update)
    except asyncio.CancelledError:  # Ctrl-C: withdraw what no worker took, then stop
        await _withdraw(store, [r for name, r in records.items() if name not in ended])
        raise
    return [ended[name] for name in integrations]


async def _poll(
    store: SweepStore,
    records: dict[str, SweepRecord],
    ended: dict[str, Followed],
    limits: _Limits,
    poll_seconds: float,
    store_patience: float,
    on_update: Callable[[SweepRecord], None],
) -> None:
    """Poll until every sweep has a verdict in `ended`."""
    started = time.monotonic()
    failing_since: float | None = None
    while len(ended) < len(records):
        try:
            for name in [name for name in records if name not in ended]:
                records[name] = await store.get(records[name].sweep_id) or records[name]
                on_update(records[name])
                elapsed = time.monotonic() - started
                verdict = await _verdict(store, records[name], elapsed, limits, on_update)
                if verdict is not None:
                    ended[name] = verdict
            failing_since = None
        except PyMongoError:
            failing_since = failing_since if failing_since is not None else time.monotonic()
            if time.monotonic() - failing_since > store_patience:
                raise
        if len(ended) < len(records):
            await asyncio.sleep(poll_seconds)


@dataclass(frozen=True)
class _Limits:
    #: a request still `requested` after this long is closed as taken by nobody
    start_timeout: float
    #: a sweep still unfinished after this long is left to its worker
    give_up_after: float


async def _verdict(
    store: SweepStore,
    record: SweepRecord,
    elapsed: float,
    limits: _Limits,
    on_update: Callable[[SweepRecord], None],
) -> Followed | None:
    """How the sweep ended, or None while it is still worth waiting for."""
    name = record.integration
    if record.state is SweepState.DONE:
        return Followed(record)
    if record.state is SweepState.FAILED:
        return Followed(record, f"the {name} sweep failed: {record.reason or 'no reason given'}")
    if record.state is SweepState.SKIPPED:
        return Followed(record, f"the {name} sweep was skipped: {record.reason or 'no reason'}")
    waited = min(limits.start_timeout, limits.give_up_after)
    if record.state is SweepState.REQUESTED and elapsed >= waited:
        closed = await _close_untaken(store, record)
        if closed is None:  # a worker took it at the last moment: follow it after all
            return None
        on_update(closed)
        return Followed(
            closed,
            f"no {name} worker took the sweep within {waited:g} s; "
            f"is {name}_sync running (make run)?",
        )
    if elapsed >= limits.give_up_after:
        return Followed(
            record,
            f"the {name} sweep did not finish within {limits.give_up_after:g} s; it goes on "
            f"in the worker (sweep {record.sweep_id})",
        )
    return None


async def _withdraw(store: SweepStore, records: list[SweepRecord]) -> None:
    """Close the requests no worker took yet, as after the start timeout; best effort and
    brief, since the user asked to stop (a sweep already running goes on in its worker)."""
    try:
        async with asyncio.timeout(WITHDRAW_SECONDS):
            for record in records:
                await _close_untaken(store, record, WITHDRAWN)
    except (TimeoutError, PyMongoError):
        pass


async def _close_untaken(
    store: SweepStore, record: SweepRecord, reason: str = NOBODY_TOOK_IT
) -> SweepRecord | None:
    """Mark a request nobody took as failed, so a worker that starts later does not run a
    sweep nobody is waiting for. Taken first with the workers' own compare-and-set (`start`
    moves it out of `requested` only if it still is), so it never races a worker that takes
    it at the same moment: None means one did."""
    taken = await store.start(record.sweep_id, BY)
    if taken is None:
        return None
    closed = taken.model_copy(
        update={"state": SweepState.FAILED, "reason": reason, "finished_at": now()}
    )
    await store.save(closed)
    return closed
