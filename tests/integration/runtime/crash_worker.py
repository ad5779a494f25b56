"""A real worker process for the commit-after-effect tests: the shared loop (`WorkerLoop`,
`subscribe_worker`, `MongoDedupe`) on the real Kafka and FerretDB, with a tiny provider kept in
a MongoDB collection, that can die (`os._exit`, like a SIGKILL: no cleanup, no commit, no
goodbye to the group) at a chosen point while processing a chosen event.

    python -m tests.integration.runtime.crash_worker '<json config>'

Config keys: bootstrap, mongodb_uri, database, group, events_topic, replays_topic,
results_topic, failures_topic, crash_at ("effect" | "recorded" | ""), crash_event, tag,
sync_delay (seconds each sync takes).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from typing import Any, ClassVar

from prometheus_client import CollectorRegistry

from libs.contracts import CustomerEvent
from libs.runtime.broker import make_broker
from libs.runtime.dedupe import Applied, MongoDedupe
from libs.runtime.integration import WorkerSettings
from libs.runtime.ledger import Ledger
from libs.runtime.logging import configure_logging
from libs.runtime.mongo import database, make_client
from libs.runtime.repository import Change, Snapshot, Updated
from libs.runtime.worker import WorkerLoop
from libs.runtime.worker_app import stop_worker, subscribe_worker
from libs.runtime.worker_metrics import WorkerMetrics

CRASH_EXIT_CODE = 17


class MongoProvider:
    """A provider whose only state is `downstream` {_id: email, groups, writes}. Like every real
    integration it reads first and writes only what is missing, so a re-run finds nothing to do.
    `calls` records each sync, so a test can see a redelivery."""

    name: ClassVar[str] = "testprov"

    def __init__(self, db: Any, config: dict[str, Any]) -> None:
        self.downstream = db["downstream"]
        self.calls = db["calls"]
        self.config = config

    async def sync(
        self, event: CustomerEvent, *, dry_run: bool, ledger: Ledger | None = None
    ) -> list[str]:
        started = time.time()
        await asyncio.sleep(float(self.config.get("sync_delay", 0)))  # a slow provider
        await self.calls.insert_one(
            {
                "event_id": event.event_id,
                "tag": self.config["tag"],
                "customer_id": event.customer_id,
                "version": event.version,
                "started": started,
                "ended": time.time(),
            }
        )
        current = await self.downstream.find_one({"_id": event.email}) or {}
        if "Members" in current.get("groups", []):
            return []
        if not dry_run:
            await self.downstream.update_one(
                {"_id": event.email},
                {"$addToSet": {"groups": "Members"}, "$inc": {"writes": 1}},
                upsert=True,
            )
            crash_if(self.config, "effect", event.event_id)
        return ["add_access_group:Members"]

    async def aclose(self) -> None:
        pass


class CrashingDedupe(MongoDedupe):
    def __init__(self, db: Any, config: dict[str, Any]) -> None:
        super().__init__(db, MongoProvider.name)
        self.config = config

    async def update(
        self, record_id: str, change: Change[Applied], snapshot: Snapshot[Applied] | None = None
    ) -> Updated[Applied]:
        updated = await super().update(record_id, change, snapshot)
        event_id = updated.after.last_event if updated.after is not None else None
        crash_if(self.config, "recorded", event_id or "")  # after the record, before the commit
        return updated


def crash_if(config: dict[str, Any], point: str, event_id: str) -> None:
    if config.get("crash_at") == point and config.get("crash_event") == event_id:
        print(f"crashing at {point} of {event_id}", flush=True)
        os._exit(CRASH_EXIT_CODE)


async def main(config: dict[str, Any]) -> None:
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    settings = WorkerSettings(
        env="local",
        service_name=f"crash_worker_{config['tag']}",
        kafka_bootstrap_servers=config["bootstrap"],
        mongodb_uri=config["mongodb_uri"],
        mongodb_database=config["database"],
        concurrency=3,
        consumer_session_timeout_seconds=6,  # the broker's minimum: a dead worker leaves sooner
        shutdown_grace_seconds=5,
    )
    configure_logging(settings.service_name, "INFO")
    mongo = make_client(settings)
    db = database(mongo, settings)
    broker = make_broker(settings)
    loop = WorkerLoop(
        MongoProvider(db, config),
        settings,
        broker,
        CrashingDedupe(db, config),
        WorkerMetrics(CollectorRegistry()),
        results_topic=config["results_topic"],
        failures_topic=config["failures_topic"],
    )
    subscribe_worker(
        broker,
        loop,
        settings,
        group=config["group"],
        events_topic=config["events_topic"],
        replays_topic=config["replays_topic"],
    )
    await broker.start()
    print("worker started", flush=True)
    await stopping.wait()
    await stop_worker(loop, broker, settings.shutdown_grace_seconds)
    await mongo.close()
    print("worker stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
