"""Sweeps inside a worker: every `reconcile_poll_seconds` the worker looks for a sweep someone
asked for (`switchboard reconcile`), or one the schedule is due for
(`reconcile_interval_seconds` since the last scheduled one started; 0: only on demand), and runs
it while holding the integration's lease, so one replica sweeps at a time. A sweep that fails
(the provider down past its retries, our store) is recorded as failed with the reason; the
next is due at the next interval."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from libs.contracts import (
    SYNC_RESULTS,
    CustomerEvent,
    SyncFailure,
    SyncResult,
    failure_topic,
    replay_topic,
)
from libs.runtime.clock import now
from libs.runtime.integration import Mode
from libs.runtime.logging import get_logger

from .budget import QuotaShareSpent, monthly_allowance
from .records import SweepRecord, SweepState
from .sweep import SweepContext, run_sweep

log = get_logger()

#: a lease outlives its holder by this much (renewed while the sweep runs)
LEASE_SECONDS = 120.0

Publish = Callable[[str, str, bytes], Awaitable[None]]


class TopicOutlet:
    """A sweep's decisions onto the worker's topics, keyed by customer like every message."""

    def __init__(self, integration: str, publish: Publish) -> None:
        self.integration, self.publish = integration, publish

    async def repair(self, event: CustomerEvent) -> None:
        await self.publish(replay_topic(self.integration), event.customer_id, event.to_bytes())

    async def ticket(self, failure: SyncFailure) -> None:
        await self.publish(failure_topic(self.integration), failure.customer_id, failure.to_bytes())

    async def resolved(self, result: SyncResult) -> None:
        await self.publish(SYNC_RESULTS, result.customer_id, result.to_bytes())


def replica_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


class SweepScheduler:
    def __init__(self, ctx: SweepContext) -> None:
        self.ctx = ctx
        self.owner = replica_name()
        self._last_scheduled: float | None = None  # monotonic, in this replica
        self._stopping = asyncio.Event()

    @property
    def name(self) -> str:
        return self.ctx.auditor.name

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """The worker's background loop (until the app stops)."""
        await self._restore_gauges()
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.ctx.settings.reconcile_poll_seconds):
                    await self._stopping.wait()
            if self._stopping.is_set():
                return
            try:
                await self.once()
            except Exception as exc:  # the store is away: try again at the next poll
                log.warning("reconcile_poll_failed", integration=self.name, error=repr(exc))

    async def _restore_gauges(self) -> None:
        if self.ctx.metrics is None:
            return
        try:
            last = await self.ctx.store.latest(self.name)
        except Exception as exc:  # the store is not up yet: the first sweep sets them
            log.warning("reconcile_restore_failed", integration=self.name, error=repr(exc))
            return
        if last is not None:
            self.ctx.metrics.restored(self.name, last)

    async def once(self) -> SweepRecord | None:
        """Run the sweep that is asked for or due, if any and if this replica holds the lease."""
        store = self.ctx.store
        if not await store.lease(self.name, self.owner, LEASE_SECONDS):
            return None
        try:
            record = await store.next_requested(self.name)
            if record is None and await self._due():
                record = await store.request(self.name, dry_run=False, by="schedule")
            if record is None:
                return None
            started = await store.start(record.sweep_id, self.owner)
            return await self._run(started) if started is not None else None
        finally:
            await store.release(self.name, self.owner)

    async def _due(self) -> bool:
        interval = self.ctx.settings.reconcile_interval_seconds
        if interval <= 0:
            return False
        last = await self.ctx.store.latest(self.name)
        since = last.started_at if last is not None else None
        if since is not None and now() - since < timedelta(seconds=interval):
            return False
        # a failing sweep is not retried every poll: once per interval per replica
        return self._last_scheduled is None or time.monotonic() - self._last_scheduled >= interval

    async def _run(self, record: SweepRecord) -> SweepRecord:
        if record.requested_by == "schedule":
            self._last_scheduled = time.monotonic()
        skip = await self._reason_to_skip(record)
        if skip is not None:
            return await self._finish(record, SweepState.SKIPPED, skip)
        if self.ctx.settings.mode is Mode.SHADOW and not record.dry_run:
            record = record.model_copy(update={"dry_run": True})  # shadow: find, change nothing
            await self.ctx.store.save(record)
        renew = asyncio.create_task(self._hold_lease())
        try:
            return await run_sweep(self.ctx, record)
        except QuotaShareSpent as exc:
            return await self._finish(record, SweepState.FAILED, str(exc))
        except Exception as exc:
            log.warning("reconcile_sweep_failed", integration=self.name, error=repr(exc))
            return await self._finish(record, SweepState.FAILED, _reason(exc))
        finally:
            renew.cancel()

    async def _reason_to_skip(self, record: SweepRecord) -> str | None:
        settings = self.ctx.settings
        if settings.mode is Mode.OFF:
            return f"{self.name} is off (SWITCHBOARD_{self.name.upper()}_MODE=off)"
        allowance = monthly_allowance(settings)
        if allowance is not None:
            month = now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            spent = await self.ctx.store.calls_since(self.name, month)
            last = await self.ctx.store.latest(self.name)
            expected = last.progress.calls if last is not None else 1
            if spent + expected > allowance:
                return (
                    f"the sweeps' share of the monthly quota is spent: {spent} of {allowance} "
                    f"calls used, a sweep costs about {expected}"
                )
        return None

    async def _hold_lease(self) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            await self.ctx.store.lease(self.name, self.owner, LEASE_SECONDS)

    async def _finish(self, record: SweepRecord, state: SweepState, reason: str) -> SweepRecord:
        current = await self.ctx.store.get(record.sweep_id) or record
        done = current.model_copy(update={"state": state, "finished_at": now(), "reason": reason})
        await self.ctx.store.save(done)
        log.info("reconcile_sweep_" + state.value, integration=self.name, reason=reason)
        return done


def _reason(exc: Exception) -> str:
    """A failure's reason for the record and the CLI: the provider error's message (secret
    free by construction), else the exception's type."""
    message = getattr(exc, "message", None)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
