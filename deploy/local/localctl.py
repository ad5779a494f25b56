"""Readiness probes and topic setup for the local Kafka/FerretDB started by deploy/local/infra.sh.

Run with the project venv (it needs aiokafka, pymongo and the editable ``libs`` package):

    .venv/bin/python deploy/local/localctl.py wait-kafka --bootstrap 127.0.0.1:9092 --pid 123
    .venv/bin/python deploy/local/localctl.py create-topics --bootstrap 127.0.0.1:9092
    .venv/bin/python deploy/local/localctl.py topics --bootstrap 127.0.0.1:9092
    .venv/bin/python deploy/local/localctl.py wait-mongo --port 27017 --pid 456 --log y.log
    .venv/bin/python deploy/local/localctl.py cluster-id

Exit status 0 on success, 1 with a one-line ``error: ...`` on stderr otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import sys
import time
import uuid
from typing import Any

# aiokafka logs connection failures at ERROR while we poll a broker that is still booting.
logging.basicConfig(level=logging.CRITICAL)

TOPIC_ALREADY_EXISTS = 36


class ProbeError(Exception):
    pass


def _alive(pid: int | None) -> bool:
    if not pid:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still "exists" for kill(0)
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _died(name: str, log: str | None) -> ProbeError:
    return ProbeError(f"{name} exited during startup; see {log or 'its log file'}")


# --- Kafka -------------------------------------------------------------------------------------


def _admin(bootstrap: str, request_timeout_ms: int = 5000) -> Any:
    from aiokafka.admin import AIOKafkaAdminClient

    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=request_timeout_ms,
        client_id="switchboard-infra",
    )


async def _kafka_once(bootstrap: str) -> dict[str, Any]:
    admin = _admin(bootstrap)
    try:
        await asyncio.wait_for(admin.start(), 5)
        cluster: dict[str, Any] = await asyncio.wait_for(admin.describe_cluster(), 5)
    finally:
        await admin.close()
    if not cluster.get("brokers"):
        raise ProbeError("no brokers in metadata yet")
    return cluster


async def wait_kafka(bootstrap: str, timeout_s: float, pid: int | None, log: str | None) -> None:
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while True:
        if not _alive(pid):
            raise _died("kafka", log)
        try:
            await _kafka_once(bootstrap)
            return
        except Exception as exc:  # anything means "not ready yet"
            last = exc
        if time.monotonic() > deadline:
            raise ProbeError(
                f"kafka did not answer on {bootstrap} within {timeout_s:g}s "
                f"(last error: {type(last).__name__}: {last}); see {log or 'its log file'}"
            )
        await asyncio.sleep(0.5)


def _wanted_topics() -> dict[str, int]:
    from libs.contracts.topics import TOPIC_PARTITIONS

    return dict(TOPIC_PARTITIONS)


async def _describe(admin: Any, names: list[str] | None = None) -> dict[str, int]:
    """topic -> partition count (only topics without a metadata error)."""
    out = {}
    for t in await admin.describe_topics(names):
        if t["error_code"] == 0:
            out[t["topic"]] = len(t["partitions"])
    return out


async def create_topics(bootstrap: str, timeout_s: float) -> None:
    from aiokafka.admin import NewTopic

    wanted = _wanted_topics()
    admin = _admin(bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await admin.start()
        existing = await _describe(admin)
        missing = [name for name in wanted if name not in existing]
        created = 0
        if missing:
            resp = await admin.create_topics(
                [NewTopic(name, wanted[name], 1) for name in missing],
                timeout_ms=int(timeout_s * 1000),
            )
            errors = []
            for entry in resp.topic_errors:
                name, code = entry[0], entry[1]
                if code == 0:
                    created += 1
                elif code != TOPIC_ALREADY_EXISTS:  # a concurrent creator is fine
                    msg = entry[2] if len(entry) > 2 else ""
                    errors.append(f"{name}: error {code} {msg or ''}".strip())
            if errors:
                raise ProbeError("creating topics failed: " + "; ".join(errors))
        # wait until every topic is visible with its leaders (creation is asynchronous)
        deadline = time.monotonic() + timeout_s
        while True:
            have = await _describe(admin, list(wanted))
            if all(name in have for name in wanted):
                break
            if time.monotonic() > deadline:
                raise ProbeError(
                    f"topics not visible after {timeout_s:g}s: {sorted(set(wanted) - set(have))}"
                )
            await asyncio.sleep(0.2)
        fewer = {n: (have[n], wanted[n]) for n in wanted if have[n] < wanted[n]}
        for name, (got, want) in sorted(fewer.items()):
            print(
                f"warning: topic {name} exists with {got} partitions (< {want}); left as is",
                file=sys.stderr,
            )
    finally:
        await admin.close()
    print(f"kafka: topics ready ({len(wanted)} topics, {created} created)")


async def list_topic_partitions(bootstrap: str) -> None:
    admin = _admin(bootstrap)
    try:
        await admin.start()
        have = await _describe(admin)
    finally:
        await admin.close()
    for name in sorted(have):
        print(f"{name}\t{have[name]}")


# --- FerretDB ----------------------------------------------------------------------------------


def wait_mongo(host: str, port: int, timeout_s: float, pid: int | None, log: str | None) -> None:
    from pymongo import MongoClient

    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while True:
        if not _alive(pid):
            raise _died("ferretdb", log)
        try:
            client: MongoClient[dict[str, Any]] = MongoClient(
                host,
                port,
                directConnection=True,
                serverSelectionTimeoutMS=1000,
                connectTimeoutMS=1000,
            )
            try:
                client.admin.command("ping")
                return
            finally:
                client.close()
        except Exception as exc:
            last = exc
        if time.monotonic() > deadline:
            raise ProbeError(
                f"ferretdb did not answer ping on {host}:{port} within {timeout_s:g}s "
                f"(last error: {type(last).__name__}); see {log or 'its log file'}"
            )
        time.sleep(0.3)


def cluster_id() -> str:
    """A Kafka-style cluster id: URL-safe base64 of 16 random bytes, not starting with '-'."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="localctl.py")
    sub = p.add_subparsers(dest="cmd", required=True)
    wk = sub.add_parser("wait-kafka")
    wk.add_argument("--bootstrap", required=True)
    wk.add_argument("--timeout", type=float, default=90)
    wk.add_argument("--pid", type=int)
    wk.add_argument("--log")
    ct = sub.add_parser("create-topics")
    ct.add_argument("--bootstrap", required=True)
    ct.add_argument("--timeout", type=float, default=30)
    tp = sub.add_parser("topics")
    tp.add_argument("--bootstrap", required=True)
    wm = sub.add_parser("wait-mongo")
    wm.add_argument("--host", default="127.0.0.1")
    wm.add_argument("--port", type=int, required=True)
    wm.add_argument("--timeout", type=float, default=90)
    wm.add_argument("--pid", type=int)
    wm.add_argument("--log")
    sub.add_parser("cluster-id")
    a = p.parse_args(argv)
    try:
        if a.cmd == "wait-kafka":
            asyncio.run(wait_kafka(a.bootstrap, a.timeout, a.pid, a.log))
        elif a.cmd == "create-topics":
            asyncio.run(create_topics(a.bootstrap, a.timeout))
        elif a.cmd == "topics":
            asyncio.run(list_topic_partitions(a.bootstrap))
        elif a.cmd == "wait-mongo":
            wait_mongo(a.host, a.port, a.timeout, a.pid, a.log)
        elif a.cmd == "cluster-id":
            print(cluster_id())
    except ProbeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
