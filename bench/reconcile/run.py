"""Reconcile sweep cost: what ONE sweep of each integration costs (provider calls, wall time)
for N customers, on the sandbox at the providers' published limits, with the sweep's own pacer
at `reconcile_budget_share` (0.2) of the worker's default limit.

For each N: seed (not measured) the in-process sandbox's stores, ingest's `customers` and each
worker's `<integration>_applied` records on the FerretDB that `run.sh` started, as a synced
worker would have left N customers; drift `--drift` of them by hand through the providers'
APIs; then run one sweep per integration, one after another, and read the sandbox's counters.
Prints a table per N; writes `<out>.json` when `--out` is given.

    bench/reconcile/run.sh [--customers 1000,10000] [--drift 0.01] [--out docs/reconcile-bench]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any, NoReturn

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pymongo import AsyncMongoClient  # noqa: E402

from bench.launch.run import commit  # noqa: E402
from bench.reconcile import report  # noqa: E402
from bench.reconcile.drift import drift  # noqa: E402
from bench.reconcile.measure import sweep_once  # noqa: E402
from bench.reconcile.population import population  # noqa: E402
from bench.reconcile.seed import seed_ferret, seed_providers  # noqa: E402
from bench.reconcile.world import build, pacing  # noqa: E402

DEFAULT_MONGO_PORT = "27024"
ORDER = ("circle", "convertkit", "crm")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--customers", default="1000,10000", help="comma-separated Ns")
    parser.add_argument("--drift", type=float, default=0.01, help="fraction drifted by hand")
    parser.add_argument("--out", help="write <out>.json")
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(message, flush=True)


def _terminated(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)


async def one_n(n: int, drift_share: float, mongo_uri: str) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:6]
    people = population(n, drift_share, run_id)
    world = build()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, tz_aware=True)
    db = client[f"reconcile_bench_{n}_{run_id}"]
    try:
        log(f"\n== {n:,} customers (run {run_id}) ==")
        started = time.monotonic()
        kit_ids = seed_providers(world.sandbox, world.integrations, people)
        log(f"  sandbox stores seeded in {time.monotonic() - started:.1f} s")
        await seed_ferret(db, world.integrations, people, kit_ids, log)
        await drift(world, people, kit_ids, log)
        sweeps = []
        for name in ORDER:
            log(f"  sweeping {name} ...")
            figures = await sweep_once(world, db, name)
            log(
                f"    {figures['state']}: {figures['sandbox_calls']} calls, "
                f"{figures['seconds']:.1f} s, checked {figures['checked']}, "
                f"found {figures['found']}, repaired {figures['repaired']}, "
                f"429s {figures['rejected_429']}, parts {figures['parts_s']}"
            )
            log(f"    sandbox reads by endpoint: {figures['sandbox_reads']}")
            sweeps.append(figures)
        circle = next(s for s in sweeps if s["integration"] == "circle")
        share = world.integrations["circle"].settings.reconcile_budget_share
        return {
            "customers": n,
            "drifted": sum(p.drifted for p in people),
            "canceled": sum(p.version == 2 for p in people),
            "pacing": pacing(world),
            "sweeps": sweeps,
            "circle_quota": report.circle_quota(circle["sandbox_calls"], share),
        }
    finally:
        await world.aclose()
        await client.drop_database(db.name)
        await client.close()


async def _main(args: argparse.Namespace, mongo_uri: str) -> list[dict[str, Any]]:
    runs = []
    for n in (int(x) for x in args.customers.split(",") if x.strip()):
        runs.append(await one_n(n, args.drift, mongo_uri))
    return runs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    port = os.environ.get("SWITCHBOARD_LOCAL_MONGO_PORT", DEFAULT_MONGO_PORT)
    mongo_uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    runs = asyncio.run(_main(args, mongo_uri))
    log("\n" + report.table(runs))
    log("\nCircle's monthly quota:\n" + report.quota_lines(runs))
    if args.out:
        out = Path(args.out)
        out = (out if out.is_absolute() else REPO / out).with_suffix(".json")
        summary = {
            "command": "bench/reconcile/run.sh " + " ".join(argv or sys.argv[1:]),
            "commit": commit(),
            "machine": {"cores": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]},
            "drift": args.drift,
            "runs": runs,
        }
        out.write_text(json.dumps(summary, indent=2) + "\n")
        log(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
