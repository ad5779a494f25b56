"""Launch-day benchmark: the sandbox at the providers' published limits; N purchases within 60 s
and R refunds of earlier customers sent 10 s into the burst. Measures from the outside (the
sandbox's state and counters, the workers' metrics, ingest's status API): calls per purchase per
provider, time until every customer converged against the quota bound, refund -> access removed,
429s and tickets.

Starts the sandbox and every service (deploy/local/stack.py) on launch ports against the Kafka
and FerretDB that `run.sh` started (.run/launch). Writes `<out>.json` and `<out>.png`.

    bench/launch/run.sh [--purchases 1000] [--refunds 20] [--timeout 900] [--out PREFIX]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import NoReturn

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.launch import workload  # noqa: E402
from bench.launch.harness import Config, Launch  # noqa: E402
from bench.launch.report import headline, plot, write_json  # noqa: E402
from bench.soak.harness import stack_env  # noqa: E402
from deploy.local.stack import Stack, default_specs  # noqa: E402

PORTS = {
    "sandbox": 23070,
    "ingest": 23080,
    "support": 23081,
    "circle_sync": 23201,
    "convertkit_sync": 23202,
    "crm_sync": 23203,
}
INFRA_DEFAULTS = {
    "SWITCHBOARD_LOCAL_RUN_DIR": ".run/launch",
    "SWITCHBOARD_LOCAL_KAFKA_PORT": "23092",
    "SWITCHBOARD_LOCAL_KAFKA_CONTROLLER_PORT": "23093",
    "SWITCHBOARD_LOCAL_MONGO_PORT": "27023",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--purchases", type=int, default=1000)
    parser.add_argument("--refunds", type=int, default=20)
    parser.add_argument("--window", type=float, default=60.0, help="seconds to send purchases")
    parser.add_argument("--refunds-at", type=float, default=10.0, help="seconds into the burst")
    parser.add_argument("--timeout", type=float, default=900.0, help="the whole run, seconds")
    parser.add_argument("--out", help="output prefix (default docs/launch-<purchases>)")
    parser.add_argument("--log-level", default="INFO", help="the services' log level")
    return parser.parse_args(argv)


def _terminated(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)  # unwinds through `finally`: the stack is stopped


def commit() -> str:
    found = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    # a run from an exported tree (no .git) is told its commit by BENCH_COMMIT
    head = found.stdout.strip() or os.environ.get("BENCH_COMMIT", "unknown")
    return head + (" (working tree has changes)" if dirty.stdout.strip() else "")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    infra_env = {**INFRA_DEFAULTS, **os.environ}
    kafka = f"127.0.0.1:{infra_env['SWITCHBOARD_LOCAL_KAFKA_PORT']}"
    mongo = (
        f"mongodb://127.0.0.1:{infra_env['SWITCHBOARD_LOCAL_MONGO_PORT']}"
        "/?directConnection=true&maxPoolSize=1"
    )
    run_id = uuid.uuid4().hex[:6]
    env = {
        **os.environ,
        # the sandbox at the published limits, and the workers pacing themselves at them (their
        # default): not the soak's unlimited stack
        **stack_env(PORTS, kafka, mongo, run_id, prefix="launch", unlimited=False),
        **workload.rate_limit_env(),
        "SWITCHBOARD_LOG_LEVEL": args.log_level,
    }
    cfg = Config(
        purchases=args.purchases,
        refunds=args.refunds,
        window=args.window,
        refunds_at=args.refunds_at,
        timeout=args.timeout,
    )
    bound = workload.bounds(cfg.purchases, cfg.refunds)
    print(
        "quota bound: "
        + ", ".join(
            f"{b.provider} {b.calls:.0f} calls / {b.rate_per_s:.3g}/s = {b.seconds:.0f} s"
            for b in bound
        )
        + f" -> {bound[0].seconds:.0f} s ({bound[0].provider})",
        flush=True,
    )
    log_dir = REPO / infra_env["SWITCHBOARD_LOCAL_RUN_DIR"] / "stack-logs"
    shutil.rmtree(log_dir, ignore_errors=True)
    stack = Stack(default_specs(PORTS), env, log_dir)
    started = time.monotonic()
    stack.start(timeout=120)
    print(f"stack ready in {time.monotonic() - started:.1f} s (logs {log_dir})", flush=True)
    workers = {
        s.name: f"http://127.0.0.1:{s.port}" for s in stack.specs if s.name.endswith("_sync")
    }
    try:
        summary = asyncio.run(_run(cfg, workers, run_id))
    finally:
        stack.stop()
    summary["machine"] = {"cores": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]}
    summary["commit"] = commit()
    summary["command"] = "bench/launch/run.sh " + " ".join(argv or sys.argv[1:])
    out = Path(args.out or f"docs/launch-{cfg.purchases}")
    out = out if out.is_absolute() else REPO / out
    write_json(out.with_suffix(".json"), summary)
    plot(out.with_suffix(".png"), summary)
    print("\n" + headline(summary))
    print(f"\nwrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")
    return 0


async def _run(cfg: Config, workers: dict[str, str], run_id: str) -> dict[str, object]:
    import httpx

    limits = httpx.Limits(max_connections=300, max_keepalive_connections=50)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        launch = Launch(
            cfg,
            client,
            f"http://127.0.0.1:{PORTS['sandbox']}",
            f"http://127.0.0.1:{PORTS['ingest']}",
            workers,
            run_id,
        )
        return await launch.run()


if __name__ == "__main__":
    sys.exit(main())
