"""Soak benchmark under faults: many customers' Stripe webhooks at a steady rate while services
are killed, Kafka and the store go away and the providers misbehave; then every customer is
graded from the outside (sandbox state and the status API).

Starts the sandbox and every service (deploy/local/stack.py) on soak ports against the Kafka and
FerretDB that `run.sh` started (.run/soak). Writes `<out>.json` and `<out>.png`.

    bench/soak/run.sh [--customers 10000 | --quick] [--rate 20] [--schedule full|ci]
                      [--no-faults] [--out PREFIX]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.soak.faults import SCHEDULE_ENV  # noqa: E402
from bench.soak.harness import Config, soak, stack_env  # noqa: E402
from bench.soak.report import headline, plot, write_json  # noqa: E402
from deploy.local.stack import Stack, default_specs  # noqa: E402

PORTS = {
    "sandbox": 24070,
    "ingest": 24080,
    "support": 24081,
    "circle_sync": 24201,
    "convertkit_sync": 24202,
    "crm_sync": 24203,
}
INFRA_DEFAULTS = {
    "SWITCHBOARD_LOCAL_RUN_DIR": ".run/soak",
    "SWITCHBOARD_LOCAL_KAFKA_PORT": "24092",
    "SWITCHBOARD_LOCAL_KAFKA_CONTROLLER_PORT": "24093",
    "SWITCHBOARD_LOCAL_MONGO_PORT": "27020",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="1000 customers")
    parser.add_argument("--rate", type=float, default=20.0, help="webhooks per second")
    parser.add_argument("--schedule", choices=["full", "ci"], default="full")
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument(
        "--out", help="output prefix for .json and .png (default docs/soak-<schedule>-<customers>)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--converge-timeout", type=float, default=600.0)
    parser.add_argument("--stall-seconds", type=float, default=None)
    parser.add_argument("--log-level", default="INFO", help="the services' log level")
    args = parser.parse_args(argv)
    if args.quick:
        args.customers = 1000
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    infra_env = {**INFRA_DEFAULTS, **os.environ}
    kafka = f"127.0.0.1:{infra_env['SWITCHBOARD_LOCAL_KAFKA_PORT']}"
    mongo = (
        f"mongodb://127.0.0.1:{infra_env['SWITCHBOARD_LOCAL_MONGO_PORT']}"
        "/?directConnection=true&maxPoolSize=1"
    )
    run_id = uuid.uuid4().hex[:6]
    env = {
        **os.environ,
        **stack_env(PORTS, kafka, mongo, run_id),
        "SWITCHBOARD_LOG_LEVEL": args.log_level,
    }
    schedule = "none" if args.no_faults else args.schedule
    for name, value in SCHEDULE_ENV[schedule].items():
        env.setdefault(name, value)
    stall = args.stall_seconds or (60.0 if schedule == "ci" else 180.0)
    cfg = Config(
        customers=args.customers,
        rate=args.rate,
        schedule=schedule,
        seed=args.seed,
        converge_timeout=args.converge_timeout,
        stall_seconds=stall,
    )
    log_dir = REPO / infra_env["SWITCHBOARD_LOCAL_RUN_DIR"] / "stack-logs"
    shutil.rmtree(log_dir, ignore_errors=True)  # the log audit reads this run's lines only
    stack = Stack(default_specs(PORTS), env, log_dir)
    started = time.monotonic()
    stack.start(timeout=120)
    print(f"stack ready in {time.monotonic() - started:.1f} s (logs {log_dir})", flush=True)
    try:
        summary = asyncio.run(
            soak(
                cfg,
                stack,
                f"http://127.0.0.1:{PORTS['sandbox']}",
                f"http://127.0.0.1:{PORTS['ingest']}",
                infra_env,
                run_id,
            )
        )
    finally:
        stack.stop()
    out = Path(args.out or f"docs/soak-{schedule}-{args.customers}")
    out = out if out.is_absolute() else REPO / out
    summary["machine"] = {"cores": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]}
    # the sandbox's final state is for debugging a run, not for docs/
    state_file = log_dir / "final-state.json"
    state_file.write_text(json.dumps(summary.pop("final_state")))
    write_json(out.with_suffix(".json"), summary)
    plot(out.with_suffix(".png"), summary)
    brief = {k: v for k, v in summary.items() if k != "series"}
    print(json.dumps(brief, indent=2))
    print("\n" + headline(summary))
    print(f"\nwrote {out.with_suffix('.json')} and {out.with_suffix('.png')} ({state_file})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
