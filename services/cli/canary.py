"""`switchboard canary`: one synthetic customer all the way through, as a buyer would go.

1. `purchase`: a signed `checkout.session.completed` for `canary@<domain>` (the same customer
   every run, as a returning buyer) buying the canary product, posted to ingest's public
   webhook endpoint;
2. `access granted`: ingest's status API says the customer has access and every integration
   synced it (the mapping routes the canary product to its own Circle group, Kit tag and
   HubSpot stage, so no real automation fires);
3. `refund`: a signed `charge.refunded` for the whole amount;
4. `access removed`: the customer is canceled and every integration synced that too.

Each run is recorded in the store (`canary_runs`), from which support exports the metrics
`switchboard_canary_success`, `..._duration_seconds` and `..._consecutive_failures`. Exit 0 when
every step passed, 1 otherwise (also when the run could not be recorded)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from pymongo.errors import PyMongoError
from rich.text import Text

from libs.contracts import Lifecycle, has_access
from libs.runtime.mongo import database, make_client
from services.support.canary_metrics import CanaryRun, CanaryRuns

from .canary_events import CanaryIds, charge_refunded, checkout_completed
from .canary_settings import CanarySettings, canary_settings
from .canary_wait import Ingest, StepFailed, Wanted
from .errors import FAILED
from .reconcile import store_problem
from .settings import CliSettings
from .terminal import Terminal, new_table, plain, titled

#: the whole run's default limit: two rounds through three workers, with room for retries
TIMEOUT_SECONDS = 180.0
STEPS = ("purchase", "access granted", "refund", "access removed")

GRANTED = Wanted("access to be granted everywhere", has_access)
REMOVED = Wanted("access to be removed everywhere", lambda state: state is Lifecycle.CANCELED)


class RunLog(Protocol):
    async def record(self, run: CanaryRun) -> None: ...


@dataclass
class Step:
    name: str
    ok: bool | None = None  # None: not reached
    seconds: float = 0.0
    detail: str = ""

    def contract(self) -> dict[str, Any]:
        result = "skipped" if self.ok is None else ("ok" if self.ok else "failed")
        return {
            "name": self.name,
            "ok": bool(self.ok),
            "result": result,
            "seconds": round(self.seconds, 3),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class CanaryOptions:
    as_json: bool = False
    timeout: float = TIMEOUT_SECONDS


async def journey(
    ingest: Ingest, settings: CanarySettings, ids: CanaryIds, limit: float
) -> list[Step]:
    """The four steps in order; the first that fails ends the run (the rest stay skipped)."""
    secret, token = settings.require_webhook_secret(), settings.require_app_token()
    deadline = time.monotonic() + limit
    poll, run_started = settings.canary_poll_seconds, datetime.now(UTC)

    async def purchase() -> str:
        # An earlier run that stopped before its refund left the canary with access; buying
        # again would change nothing (no new version, so nothing to sync and an old failure
        # shown forever). Refund that first, dated a second before this purchase.
        reset = ""
        if has_access(await ingest.lifecycle(ids.email, token) or Lifecycle.LEAD):
            earlier = replace(ids, run=f"{ids.run}reset")
            await ingest.deliver(charge_refunded(earlier, ids.created - 1), secret)
            await ingest.wait_until(
                ids.email, token, REMOVED, deadline=deadline, poll=poll, run_started=run_started
            )
            reset = " (an earlier run had left access: refunded that first)"
        return await ingest.deliver(checkout_completed(ids), secret) + reset

    def refund() -> Awaitable[str]:
        later = max(int(time.time()), ids.created + 1)  # after the purchase, in Stripe's order
        return ingest.deliver(charge_refunded(ids, later), secret)

    actions: list[Callable[[], Awaitable[str]]] = [
        purchase,
        lambda: ingest.wait_until(
            ids.email, token, GRANTED, deadline=deadline, poll=poll, run_started=run_started
        ),
        refund,
        lambda: ingest.wait_until(
            ids.email, token, REMOVED, deadline=deadline, poll=poll, run_started=run_started
        ),
    ]
    steps = [Step(name) for name in STEPS]
    for step, action in zip(steps, actions, strict=True):
        started = time.monotonic()
        try:
            step.detail = await action()
            step.ok = True
        except StepFailed as exc:
            step.ok, step.detail = False, str(exc)
        step.seconds = time.monotonic() - started
        if not step.ok:
            break
    return steps


async def run_canary(
    settings: CanarySettings,
    *,
    terminal: Terminal,
    options: CanaryOptions = CanaryOptions(),
    transport: httpx.AsyncBaseTransport | None = None,
    runs: RunLog | None = None,
    run: str | None = None,
) -> int:
    """The whole command; `runs` is where the run is recorded (None: not recorded)."""
    started_at, started = datetime.now(UTC), time.monotonic()
    ids = CanaryIds.new(
        domain=settings.canary_email_domain,
        product=settings.canary_product,
        now=int(started_at.timestamp()),
        run=run,
    )
    terminal.note(f"canary {ids.email} buys {ids.product} through {settings.ingest_url}")
    ingest = Ingest(settings.ingest_url, timeout=settings.http_timeout_seconds, transport=transport)
    try:
        steps = await journey(ingest, settings, ids, options.timeout)
    finally:
        await ingest.aclose()
    seconds = time.monotonic() - started
    ok = all(step.ok for step in steps)
    failed = next((step for step in steps if step.ok is False), None)
    record = CanaryRun(
        run_id=ids.run,
        ok=ok,
        seconds=seconds,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        steps=tuple(step.contract() for step in steps),
        failed_step=failed.name if failed else None,
        error=failed.detail if failed else None,
        interval_seconds=settings.canary_interval_seconds,
    )
    recorded = await _record(runs, record, settings, terminal)
    terminal.tables(options.as_json).print(_report(ids, steps, ok, seconds))
    if failed is not None:
        terminal.error(f"{failed.name}: {failed.detail}")
    if options.as_json:
        terminal.json_line(
            {
                "ok": ok,
                "seconds": round(seconds, 3),
                "email": ids.email,
                "recorded": recorded,
                "steps": [step.contract() for step in steps],
            }
        )
    return 0 if ok and recorded is not False else FAILED


async def _record(
    runs: RunLog | None, run: CanaryRun, settings: CanarySettings, terminal: Terminal
) -> bool | None:
    """True: recorded; False: the store refused (the metrics would go stale); None: no store."""
    if runs is None:
        terminal.note("the run is not recorded: SWITCHBOARD_MONGODB_URI is not set")
        return None
    try:
        await runs.record(run)
    except PyMongoError as exc:
        uri = settings.mongodb_uri.get_secret_value()
        terminal.error(f"the run was not recorded: {store_problem(exc, uri)}")
        return False
    return True


def _report(ids: CanaryIds, steps: list[Step], ok: bool, seconds: float) -> Any:
    table = new_table("step", "result", "seconds", "detail", right=("seconds",))
    for step in steps:
        result = (
            Text("skipped", style="dim")
            if step.ok is None
            else Text("✓ ok", style="green")
            if step.ok
            else Text("✗ failed", style="bold red")
        )
        table.add_row(step.name, result, f"{step.seconds:.1f}", plain(step.detail))
    verdict = "passed" if ok else "FAILED"
    return titled(f"Canary {ids.email}", table, f"{verdict} in {seconds:.1f} s")


async def canary_command(
    settings: CanarySettings,
    *,
    terminal: Terminal,
    options: CanaryOptions,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """`run_canary` recording into the store the settings name (when they name one)."""
    if not settings.mongodb_uri.get_secret_value():
        return await run_canary(settings, terminal=terminal, options=options, transport=transport)
    client = make_client(settings)
    try:
        runs = CanaryRuns(database(client, settings))
        return await run_canary(
            settings, terminal=terminal, options=options, transport=transport, runs=runs
        )
    finally:
        await client.close()


def add_canary_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """`switchboard canary [--json] [--local] [--timeout S]` on the command's subparsers."""
    canary = commands.add_parser(
        "canary",
        parents=[common],
        help="one test purchase and refund end to end, through every integration",
        description="Send a signed test purchase for a canary customer to ingest "
        "(SWITCHBOARD_INGEST_URL), wait until every integration synced it (the status API, "
        "first of SWITCHBOARD_APP_TOKENS), refund it and wait until access is gone. The run "
        "is recorded for support's canary metrics. Exit 0 when every step passed, else 1.",
    )
    canary.add_argument(
        "--timeout",
        type=seconds_argument,
        default=TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"fail the run when it takes longer (default {TIMEOUT_SECONDS:g})",
    )


async def canary_from_args(
    args: argparse.Namespace,
    settings: CliSettings,
    *,
    terminal: Terminal,
    transport: httpx.AsyncBaseTransport | None,
) -> int:
    return await canary_command(
        canary_settings(settings, local=args.local),
        terminal=terminal,
        options=CanaryOptions(as_json=args.as_json, timeout=args.timeout),
        transport=transport,
    )


def seconds_argument(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value
