"""End-to-end benchmark on the real stack: signed webhook → Circle, Kit and HubSpot all synced.

Starts the sandbox and every service as `make run` does (deploy/local/stack.py) on bench ports,
against the Kafka and FerretDB that `run.sh` started. Then:

1. sends signed `purchase` webhooks at a steady rate (open loop) and times, for each, the moment
   the last of the three integrations reported `synced` on `sync.results.v1`;
2. sends a `refund` for some of those customers and times until circle_sync reported the
   refund synced (access removed), then checks the sandbox: none of them is still in `Members`.

    .venv/bin/python bench/e2e/run.py [--rate 100] [--seconds 10] [--refunds 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from deploy.local.stack import Stack, default_specs  # noqa: E402
from libs.contracts import SYNC_RESULTS, TOPIC_PARTITIONS  # noqa: E402
from sandbox.stripe.webhook import encode, sign  # noqa: E402

SECRET = "whsec_local_dev_only"
PORTS = {
    "sandbox": 28070,
    "ingest": 28080,
    "support": 28081,
    "circle_sync": 29201,
    "convertkit_sync": 29202,
    "crm_sync": 29203,
}
INTEGRATIONS = ("circle", "convertkit", "crm")


def percentiles(values: list[float]) -> str:
    if not values:
        return "no samples"
    q = statistics.quantiles(values, n=100, method="inclusive")
    return (
        f"n={len(values)} p50={q[49] * 1000:.0f}ms p95={q[94] * 1000:.0f}ms "
        f"p99={q[98] * 1000:.0f}ms max={max(values) * 1000:.0f}ms"
    )


class ResultWatcher:
    """Follows sync.results.v1 from its current end, noting when each (event, integration)
    was reported synced."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.synced: dict[tuple[str, str], float] = {}
        self.other: dict[str, int] = {}

    async def start(self) -> None:
        await self.consumer.start()
        partitions = [
            TopicPartition(SYNC_RESULTS, p) for p in range(TOPIC_PARTITIONS[SYNC_RESULTS])
        ]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        self.task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=200)
            now = time.monotonic()
            for records in batch.values():
                for record in records:
                    result = json.loads(record.value)
                    if result["outcome"] == "synced":
                        self.synced.setdefault((result["event_id"], result["integration"]), now)
                    else:
                        self.other[result["outcome"]] = self.other.get(result["outcome"], 0) + 1

    async def stop(self) -> None:
        self.task.cancel()
        await self.consumer.stop()


async def send_open_loop(
    client: httpx.AsyncClient, url: str, payloads: list[tuple[str, bytes]], rate: float
) -> dict[str, float]:
    """POST each payload at `rate` per second, whatever the answers take; when each was sent."""
    sent: dict[str, float] = {}
    start = time.monotonic()

    async def one(event_id: str, payload: bytes) -> None:
        headers = {"Stripe-Signature": sign(payload, SECRET, int(time.time()))}
        sent[event_id] = time.monotonic()
        response = await client.post(url, content=payload, headers=headers)
        if response.status_code != 200:
            print(f"  webhook {event_id}: HTTP {response.status_code}", file=sys.stderr)

    tasks = []
    for i, (event_id, payload) in enumerate(payloads):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(event_id, payload)))
    await asyncio.gather(*tasks)
    return sent


async def wait_all(
    watcher: ResultWatcher, keys: set[tuple[str, str]], within: float, what: str
) -> None:
    deadline = time.monotonic() + within
    last = -1
    while time.monotonic() < deadline:
        done = sum(1 for k in keys if k in watcher.synced)
        if done == len(keys):
            return
        if done != last and int(time.monotonic()) % 5 == 0:
            print(f"  {what}: {done}/{len(keys)} synced", flush=True)
            last = done
        await asyncio.sleep(0.2)
    missing = len([k for k in keys if k not in watcher.synced])
    print(f"  {what}: {missing} of {len(keys)} not synced after {within:.0f} s", file=sys.stderr)


async def run(args: argparse.Namespace, sandbox: str, ingest: str, bootstrap: str) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        count = int(args.rate * args.seconds)
        print(f"preparing {count} purchases ...", flush=True)
        purchases = []
        for i in range(count):
            email = f"bench.{i}.{uuid.uuid4().hex[:6]}@example.com"
            trig = {"scenario": "purchase", "email": email, "deliver": False}
            made = (await client.post(f"{sandbox}/_sandbox/stripe/trigger", json=trig)).json()
            purchases.append((made["event_id"], made["customer_id"], email, encode(made["event"])))

        watcher = ResultWatcher(bootstrap)
        await watcher.start()
        print(f"sending {count} purchases at {args.rate:.0f}/s (open loop) ...", flush=True)
        sent = await send_open_loop(
            client, f"{ingest}/webhooks/stripe", [(e, p) for e, _, _, p in purchases], args.rate
        )
        keys = {(e, i) for e, *_ in purchases for i in INTEGRATIONS}
        await wait_all(watcher, keys, 300, "purchases")
        latencies = [
            max(watcher.synced[(e, i)] for i in INTEGRATIONS) - sent[e]
            for e, *_ in purchases
            if all((e, i) in watcher.synced for i in INTEGRATIONS)
        ]
        print(f"webhook -> all three synced at {args.rate:.0f}/s: {percentiles(latencies)}")
        for integration in INTEGRATIONS:
            one = [
                watcher.synced[(e, integration)] - sent[e]
                for e, *_ in purchases
                if (e, integration) in watcher.synced
            ]
            print(f"  {integration:<11} synced: {percentiles(one)}")

        refunds = []
        for _, customer, email, _ in purchases[: args.refunds]:
            trig = {"scenario": "refund", "email": email, "customer": customer, "deliver": False}
            made = (await client.post(f"{sandbox}/_sandbox/stripe/trigger", json=trig)).json()
            refunds.append((made["event_id"], encode(made["event"])))
        print(f"sending {len(refunds)} refunds at 10/s ...", flush=True)
        sent = await send_open_loop(client, f"{ingest}/webhooks/stripe", refunds, 10)
        keys = {(e, "circle") for e, _ in refunds}
        await wait_all(watcher, keys, 120, "refunds")
        removed = [watcher.synced[k] - sent[k[0]] for k in keys if k in watcher.synced]
        print(f"refund -> Circle access removed: {percentiles(removed)}")
        state = (await client.get(f"{sandbox}/_sandbox/state")).json()
        refunded = {email.lower() for _, _, email, _ in purchases[: args.refunds]}
        still = [
            m["email"]
            for m in state["circle"]["members"]
            if m["email"].lower() in refunded and "Members" in m.get("access_groups", [])
        ]
        print(f"refunded customers still in Members: {len(still)}")
        if watcher.other:
            print(f"other outcomes seen: {watcher.other}")
        await watcher.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--refunds", type=int, default=50)
    args = parser.parse_args()
    bootstrap = os.environ.get("BENCH_KAFKA", "127.0.0.1:29092")
    mongo = os.environ.get(
        "BENCH_MONGODB_URI", "mongodb://127.0.0.1:27019/?directConnection=true&maxPoolSize=1"
    )
    sandbox = f"http://127.0.0.1:{PORTS['sandbox']}"
    run_id = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "SWITCHBOARD_ENV": "local",
        "SWITCHBOARD_LOG_LEVEL": "WARNING",
        "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SWITCHBOARD_MONGODB_URI": mongo,
        "SWITCHBOARD_MONGODB_DATABASE": f"bench_{run_id}",
        "SWITCHBOARD_KAFKA_GROUP_PREFIX": f"bench-{run_id}",
        "SWITCHBOARD_CIRCLE_BASE_URL": f"{sandbox}/circle",
        "SWITCHBOARD_KIT_BASE_URL": f"{sandbox}/kit",
        "SWITCHBOARD_HUBSPOT_BASE_URL": f"{sandbox}/hubspot",
        "SWITCHBOARD_ZENDESK_BASE_URL": f"{sandbox}/zendesk",
        "SWITCHBOARD_STRIPE_API_BASE_URL": f"{sandbox}/stripe",
        "SWITCHBOARD_SANDBOX_INGEST_URL": f"http://127.0.0.1:{PORTS['ingest']}/webhooks/stripe",
        # The providers' own rate limits would measure the sandbox, not Switchboard.
        "SWITCHBOARD_SANDBOX_CIRCLE_RATE_LIMIT": "0",
        "SWITCHBOARD_SANDBOX_KIT_RATE_LIMIT": "0",
        "SWITCHBOARD_RATE_LIMIT": "0",  # the workers' pacing, like the sandbox's limits
        "SWITCHBOARD_SANDBOX_HUBSPOT_RATE_LIMIT": "0",
        # Kit's lists and HubSpot's search without their lag: drift is made and swept at once.
        "SWITCHBOARD_SANDBOX_KIT_LIST_LAG_S": "0",
        "SWITCHBOARD_SANDBOX_HUBSPOT_SEARCH_LAG_S": "0",
    }
    stack = Stack(default_specs(PORTS), env, REPO / ".run" / "bench" / "logs")
    started = time.monotonic()
    stack.start(timeout=90)
    print(f"stack ready in {time.monotonic() - started:.1f} s", flush=True)
    try:
        asyncio.run(run(args, sandbox, f"http://127.0.0.1:{PORTS['ingest']}", bootstrap))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
