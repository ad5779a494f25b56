"""The naive inline chain and Switchboard, side by side on one sandbox, under the same faults.

Starts the sandbox and every Switchboard service as `make run` does (deploy/local/stack.py) on
this benchmark's ports, against the Kafka and FerretDB that `run.sh` started, plus the naive
handler (`bench/naive/app.py`). Then, per phase, sends the same purchases and refunds to each
system in turn with a Stripe-like sender (10 s timeout, bounded redeliveries):

a. every Circle, Kit and HubSpot request takes 500 ms longer;
b. Circle and Kit answer 503 in bursts of 0.5-2 s, a quarter of the time each;
c. every event is delivered 2-3 times, half of the second copies at the same moment
   (and 100 ms provider latency, so concurrent copies overlap as they would in production).

It prints a table and writes `docs/naive-chain.md` and `docs/naive-chain.png`.

    bench/naive/run.sh [--purchases 120] [--rate 10] [--refund-every 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.naive.measure import Poller, judge  # noqa: E402
from bench.naive.report import Row, markdown, plot, table, write_markdown  # noqa: E402
from bench.naive.sender import StripeSender, last_send_at, worst_case_tail  # noqa: E402
from bench.naive.workload import PHASES, Faults, Phase, build, schedule  # noqa: E402
from deploy.local.stack import ServiceSpec, Stack, default_specs  # noqa: E402

PORTS = {
    "sandbox": 26070,
    "ingest": 26080,
    "support": 26081,
    "circle_sync": 26201,
    "convertkit_sync": 26202,
    "crm_sync": 26203,
}
NAIVE_PORT = 26090
SANDBOX = f"http://127.0.0.1:{PORTS['sandbox']}"
TARGETS = {
    "naive": f"http://127.0.0.1:{NAIVE_PORT}/webhooks/stripe",
    "sb": f"http://127.0.0.1:{PORTS['ingest']}/webhooks/stripe",
}
QUIET_S = 20.0  # no provider call for this long after the last delivery: settled
LIMIT_S = 360.0  # per system and phase, from the first send


async def run_one(
    client: httpx.AsyncClient,
    system: str,
    phase: Phase,
    args: argparse.Namespace,
    run_id: str,
) -> Row:
    slots = schedule(phase, args.purchases, args.rate, args.refund_every, args.seed)
    deliveries, customers = await build(client, SANDBOX, system, phase, slots, run_id)
    faults, poller = Faults(client, SANDBOX), Poller(client, SANDBOX)
    await faults.begin(phase)
    before = await poller.read()
    sender = StripeSender(TARGETS[system], __import__("random").Random(f"{args.seed}-{system}"))
    sent = asyncio.Event()
    start = time.monotonic()
    window = last_send_at(deliveries) + worst_case_tail()

    async def send_all() -> None:
        jobs = [sender.run(deliveries, start)]
        if phase.outages:
            jobs.append(faults.outages(phase, start, window, args.seed))
        await asyncio.gather(*jobs)
        sent.set()

    print(f"  {system}: {len(deliveries)} deliveries ...", flush=True)
    await asyncio.gather(send_all(), poller.follow(customers, start, sent, QUIET_S, LIMIT_S))
    seconds = time.monotonic() - start
    await faults.clear()
    await sender.aclose()
    verdict = judge(before, poller.state, customers)
    row = Row(
        phase=phase,
        system=system,
        customers=len(customers.purchased) + len(customers.refunded),
        refunds=len(customers.refunded),
        deliveries=len(deliveries),
        stats=sender.stats,
        verdict=verdict,
        effects=poller.effect_latencies(customers),
        seconds=seconds,
        load=os.getloadavg()[0],
    )
    print(f"    settled after {seconds:.0f} s; answers {sender.stats.statuses}", flush=True)
    print(f"    writes {dict(sorted(verdict.writes.items()))}", flush=True)
    print(f"    reads {dict(sorted(verdict.reads.items()))}", flush=True)
    return row


async def run(args: argparse.Namespace) -> list[Row]:
    run_id = uuid.uuid4().hex[:6]
    rows = []
    async with httpx.AsyncClient(timeout=30) as client:
        for phase in PHASES:
            if args.phases and phase.key not in args.phases:
                continue
            print(f"phase {phase.key}: {phase.title}", flush=True)
            for system in ("naive", "sb"):
                rows.append(await run_one(client, system, phase, args, run_id))
    return rows


def stack_env(bootstrap: str, mongo: str) -> dict[str, str]:
    run_id = uuid.uuid4().hex[:8]
    return {
        **os.environ,
        "SWITCHBOARD_ENV": "local",
        "SWITCHBOARD_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SWITCHBOARD_MONGODB_URI": mongo,
        "SWITCHBOARD_MONGODB_DATABASE": f"naive_{run_id}",
        "SWITCHBOARD_KAFKA_GROUP_PREFIX": f"naive-{run_id}",
        "SWITCHBOARD_CIRCLE_BASE_URL": f"{SANDBOX}/circle",
        "SWITCHBOARD_KIT_BASE_URL": f"{SANDBOX}/kit",
        "SWITCHBOARD_HUBSPOT_BASE_URL": f"{SANDBOX}/hubspot",
        "SWITCHBOARD_ZENDESK_BASE_URL": f"{SANDBOX}/zendesk",
        "SWITCHBOARD_STRIPE_API_BASE_URL": f"{SANDBOX}/stripe",
        "SWITCHBOARD_SANDBOX_INGEST_URL": TARGETS["sb"],
        # The providers' own rate limits would measure the sandbox, not the two systems.
        "SWITCHBOARD_SANDBOX_CIRCLE_RATE_LIMIT": "0",
        "SWITCHBOARD_SANDBOX_KIT_RATE_LIMIT": "0",
        "SWITCHBOARD_RATE_LIMIT": "0",  # the workers' pacing, like the sandbox's limits
        "SWITCHBOARD_SANDBOX_HUBSPOT_RATE_LIMIT": "0",
        # Kit's lists and HubSpot's search without their lag: drift is made and swept at once.
        "SWITCHBOARD_SANDBOX_KIT_LIST_LAG_S": "0",
        "SWITCHBOARD_SANDBOX_HUBSPOT_SEARCH_LAG_S": "0",
        "NAIVE_SANDBOX_URL": SANDBOX,
    }


def code_version() -> str:
    """The commit the services run from, and whether their code had uncommitted changes."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--", "services", "libs", "sandbox", "config")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--purchases", type=int, default=120, help="per phase and system")
    parser.add_argument("--rate", type=float, default=10.0, help="purchases per second")
    parser.add_argument("--refund-every", type=int, default=10, help="refund 1 in N customers")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--phases", default="", help="e.g. 'ac' (default: all)")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    args = parser.parse_args()
    bootstrap = os.environ.get("BENCH_KAFKA", "127.0.0.1:26092")
    mongo = os.environ.get(
        "BENCH_MONGODB_URI", "mongodb://127.0.0.1:27021/?directConnection=true&maxPoolSize=1"
    )
    specs = [
        *default_specs(PORTS),
        ServiceSpec("naive", "bench.naive.app", NAIVE_PORT, "NAIVE_PORT"),
    ]
    stack = Stack(specs, stack_env(bootstrap, mongo), REPO / ".run" / "naive" / "logs")
    version = code_version()
    started = time.monotonic()
    stack.start(timeout=90)
    print(f"stack ready in {time.monotonic() - started:.1f} s", flush=True)
    try:
        rows = asyncio.run(run(args))
    finally:
        stack.stop()
    print()
    print(table(rows))
    if args.no_docs:
        return
    command = "bench/naive/run.sh " + " ".join(sys.argv[1:])
    setup = (
        f"Code: `{version}`. Workload per phase and system: {args.purchases} purchases at "
        f"{args.rate:.0f}/s "
        f"(`checkout.session.completed`), 1 in {args.refund_every} refunded "
        "(`charge.refunded`) 6 s after its purchase; sandbox rate limits off; Switchboard on "
        "its defaults (4 consumers per worker, 4 retries from 0.2 s, full jitter)."
    )
    docs = REPO / "docs"
    write_markdown(docs / "naive-chain.md", markdown(rows, command.strip(), setup))
    plot(rows, docs / "naive-chain.png")
    print(f"\nwrote {docs / 'naive-chain.md'} and {docs / 'naive-chain.png'}")


if __name__ == "__main__":
    main()
