"""`switchboard reconcile`: ask the workers for sweeps, show them running, report what they
found, and answer with an exit code (0: every sweep finished `done`, drift or not; 1: any did
not, or the store could not be reached)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from pymongo.errors import ConfigurationError, ConnectionFailure, OperationFailure, PyMongoError

from libs.reconcile.store import MongoSweepStore, SweepStore
from libs.runtime.mongo import database, make_client
from libs.runtime.settings import ENV_PREFIX

from .errors import FAILED, CliError
from .follow import POLL_SECONDS, START_TIMEOUT_SECONDS, TIMEOUT_SECONDS, follow_sweeps
from .settings import CliSettings, store_hosts
from .sweep_view import SweepProgress, contract, report
from .terminal import Terminal

#: the server's codes for a refused login and a refused operation
_AUTH_CODES = (13, 18)


@dataclass(frozen=True)
class ReconcileOptions:
    """The command line's flags (`--dry-run`, `--json`, `--start-timeout`, `--timeout`), and
    the poll interval, which only tests change."""

    dry_run: bool = False
    as_json: bool = False
    start_timeout: float = START_TIMEOUT_SECONDS
    timeout: float = TIMEOUT_SECONDS
    poll_seconds: float = POLL_SECONDS


async def run_reconcile(
    store: SweepStore,
    integrations: Sequence[str],
    *,
    terminal: Terminal,
    options: ReconcileOptions = ReconcileOptions(),
) -> int:
    """The whole command against any sweeps store: what tests call with the in-memory one."""
    with SweepProgress(terminal.err, integrations) as progress, _on_interrupt(terminal):
        followed = await follow_sweeps(
            store,
            integrations,
            dry_run=options.dry_run,
            start_timeout=options.start_timeout,
            give_up_after=options.timeout,
            poll_seconds=options.poll_seconds,
            on_update=progress.update,
        )
    terminal.tables(options.as_json).print(report(followed, dry_run=options.dry_run))
    for f in followed:
        if f.problem is not None:
            terminal.error(f.problem)
    if options.as_json:  # last, so `| tail -1` and `| jq` find it whatever came before
        terminal.json_line(contract(followed))
    return 0 if all(f.ok for f in followed) else FAILED


@contextmanager
def _on_interrupt(terminal: Terminal) -> Iterator[None]:
    try:
        yield
    except asyncio.CancelledError:  # what Ctrl-C is inside `asyncio.run`
        terminal.note(
            "requests no worker had taken were withdrawn; "
            "a sweep already running goes on in its worker"
        )
        raise


async def reconcile_command(
    settings: CliSettings,
    integrations: Sequence[str],
    *,
    terminal: Terminal,
    options: ReconcileOptions = ReconcileOptions(),
    store: SweepStore | None = None,
) -> int:
    """`run_reconcile` on the store the settings name (or on `store`, when a test gives one);
    a store error becomes a message that names the setting."""
    uri = "" if store is not None else settings.require_mongodb_uri()
    client = None
    try:
        if store is None:
            client = make_client(settings)
            store = MongoSweepStore(database(client, settings))
        return await run_reconcile(store, integrations, terminal=terminal, options=options)
    except PyMongoError as exc:  # ConfigurationError too: a URI the driver cannot parse
        raise CliError(store_problem(exc, uri)) from None
    finally:
        if client is not None:
            await client.close()


def store_problem(exc: PyMongoError, uri: str) -> str:
    """What went wrong with the store, naming the setting and the hosts, never the URI itself
    (it may carry a password; the driver's messages may quote it, and they are long)."""
    setting = f"{ENV_PREFIX}MONGODB_URI"
    if isinstance(exc, ConfigurationError):
        return f"{setting} is not a valid MongoDB URI"
    where = f"the store at {store_hosts(uri)} ({setting})" if uri else f"the store ({setting})"
    if isinstance(exc, OperationFailure) and exc.code in _AUTH_CODES:
        return f"{where} refused the credentials or the operation (code {exc.code})"
    if isinstance(exc, ConnectionFailure):
        return f"cannot reach {where}; is it running (locally: make run)?"
    return f"{where} answered with an error ({type(exc).__name__})"
