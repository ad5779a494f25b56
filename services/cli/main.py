"""The `switchboard` console script: the command line, the settings, and which subcommand runs.

`run(argv, deps)` is the whole command as a coroutine: tests call it in-process with their own
streams, settings, sweeps store and HTTP transport (`Deps`); `main()` is what the script calls.
Exit codes: 0 done, 1 an error the message names, 2 a command line argparse refused, 130
interrupted."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from libs.contracts import INTEGRATIONS
from libs.reconcile.store import SweepStore

from .admin_api import AdminApi
from .canary import add_canary_parser, canary_from_args, seconds_argument
from .doctor import add_doctor_parser, doctor_from_args
from .errors import USAGE, CliError
from .follow import START_TIMEOUT_SECONDS, TIMEOUT_SECONDS
from .reconcile import ReconcileOptions, reconcile_command
from .replay import iso_time, run_replay
from .settings import CliSettings, load_settings
from .status import run_status
from .terminal import Terminal

#: the code a shell gives a command stopped with Ctrl-C
INTERRUPTED = 130


@dataclass
class Deps:
    """What `run` would otherwise make itself: each None is the real thing."""

    terminal: Terminal = field(default_factory=Terminal)
    settings: CliSettings | None = None
    store: SweepStore | None = None
    transport: httpx.AsyncBaseTransport | None = None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchboard",
        description="Ask Switchboard's workers for reconcile sweeps, replay failed steps, and "
        "look up where a customer stands. Settings come from SWITCHBOARD_* variables, as for "
        "the services; against `make run`, pass --local.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Every subcommand takes these after its name (`switchboard status x --local`), where a
    # newcomer types them.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--local",
        action="store_true",
        help="fill unset settings with the local defaults, as `make run` does "
        "(the same as SWITCHBOARD_ENV=local)",
    )
    common.add_argument(
        "--json",
        dest="as_json",
        action="store_true",
        help="end stdout with one JSON line (tables go to stderr)",
    )

    reconcile = commands.add_parser(
        "reconcile",
        parents=[common],
        help="compare the providers with the customers and repair drift",
        description="Ask the workers for a sweep (every integration at once unless "
        "--integration), follow it and report what it found and repaired. Exit 0 when every "
        "sweep finished, drift or not; 1 when one failed, was skipped, was taken by no worker "
        "or the store is unreachable.",
    )
    reconcile.add_argument("--integration", choices=INTEGRATIONS, help="only this integration")
    reconcile.add_argument(
        "--dry-run", action="store_true", help="find and report drift, repair nothing"
    )
    reconcile.add_argument(
        "--timeout",
        type=seconds_argument,
        default=TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"give up following after this long (default {TIMEOUT_SECONDS:g})",
    )
    reconcile.add_argument(
        "--start-timeout",
        type=seconds_argument,
        default=START_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"fail a request no worker took within this long (default {START_TIMEOUT_SECONDS:g})",
    )

    replay = commands.add_parser(
        "replay",
        parents=[common],
        help="replay one failed step, or every failed step in a time window",
        description="Ask support (SWITCHBOARD_SUPPORT_URL, first of SWITCHBOARD_ADMIN_TOKENS) "
        "to replay failed steps of one integration.",
    )
    replay.add_argument("--integration", choices=INTEGRATIONS, required=True)
    scope = replay.add_mutually_exclusive_group(required=True)
    scope.add_argument("--event-id", help="the one failed step of this event")
    scope.add_argument(
        "--since", type=iso_time, metavar="ISO", help="every failed step from this time on"
    )
    replay.add_argument(
        "--until", type=iso_time, metavar="ISO", help="... up to this time (default: now)"
    )
    replay.add_argument("--dry-run", action="store_true", help="list what would be replayed")

    status = commands.add_parser(
        "status",
        parents=[common],
        help="where a customer stands, per integration",
        description="A customer's lifecycle, each integration's step and the latest events, "
        "from support's admin API.",
    )
    status.add_argument("email", help="the customer's email address")
    add_canary_parser(commands, common)
    add_doctor_parser(commands, common)
    return parser


async def run(argv: Sequence[str] | None = None, deps: Deps | None = None) -> int:
    """The command, in-process: parse `argv` (default: the process's), run, return the exit
    code. argparse's usage errors print on stderr and give 2, as from the shell."""
    deps = deps or Deps()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "replay" and args.until is not None and args.since is None:
            parser.error("--until needs --since")
    except SystemExit as stop:  # --help (0) or a refused command line (2)
        return stop.code if isinstance(stop.code, int) else USAGE
    try:
        settings = deps.settings or load_settings(local=args.local)
        return await _dispatch(args, settings, deps)
    except CliError as exc:
        deps.terminal.error(exc.message)
        return exc.code


async def _dispatch(args: argparse.Namespace, settings: CliSettings, deps: Deps) -> int:
    terminal = deps.terminal
    if args.command == "canary":
        return await canary_from_args(args, settings, terminal=terminal, transport=deps.transport)
    if args.command == "doctor":
        return await doctor_from_args(args, settings, terminal=terminal, transport=deps.transport)
    if args.command == "reconcile":
        options = ReconcileOptions(
            dry_run=args.dry_run,
            as_json=args.as_json,
            start_timeout=args.start_timeout,
            timeout=args.timeout,
        )
        integrations = [args.integration] if args.integration else list(INTEGRATIONS)
        return await reconcile_command(
            settings, integrations, terminal=terminal, options=options, store=deps.store
        )
    api = AdminApi(
        settings.support_url,
        settings.require_admin_token(),
        timeout=settings.http_timeout_seconds,
        transport=deps.transport,
    )
    async with api:
        if args.command == "replay":
            return await run_replay(
                api,
                args.integration,
                terminal=terminal,
                event_id=args.event_id,
                since=args.since,
                until=args.until,
                dry_run=args.dry_run,
                as_json=args.as_json,
            )
        return await run_status(api, args.email, terminal=terminal, as_json=args.as_json)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script's entry point (`[project.scripts]`); its return is the exit code."""
    try:
        return asyncio.run(run(argv))
    except KeyboardInterrupt:
        Terminal().note("interrupted")
        return INTERRUPTED
