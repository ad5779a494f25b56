"""Readiness means a real answer: an aiokafka admin `describe_cluster`, a pymongo `ping`, a 200 from
`GET /healthz`. Also the topics from `libs.contracts.topics.TOPIC_PARTITIONS` and a cluster id."""

from __future__ import annotations

import asyncio
import base64
import logging
import sys
import time
import urllib.request
import uuid
from typing import Any

from .process import LaunchError

TOPIC_ALREADY_EXISTS = 36

# aiokafka logs connection failures at ERROR while we poll a broker that is still booting.
logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def _admin(bootstrap: str, request_timeout_ms: int = 5000) -> Any:
    from aiokafka.admin import AIOKafkaAdminClient

    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=request_timeout_ms,
        client_id="switchboard-infra",
    )


async def _describe_cluster(bootstrap: str) -> bool:
    admin = _admin(bootstrap)
    try:
        await asyncio.wait_for(admin.start(), 5)
        cluster: dict[str, Any] = await asyncio.wait_for(admin.describe_cluster(), 5)
    finally:
        await admin.close()
    return bool(cluster.get("brokers"))


def kafka_ready(bootstrap: str) -> bool:
    try:
        return asyncio.run(_describe_cluster(bootstrap))
    except Exception:  # anything means "not ready yet"
        return False


def mongo_ready(host: str, port: int) -> bool:
    from pymongo import MongoClient

    try:
        client: MongoClient[dict[str, Any]] = MongoClient(
            host, port, directConnection=True, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000
        )
        try:
            client.admin.command("ping")
            return True
        finally:
            client.close()
    except Exception:
        return False


def http_ready(port: int, path: str = "/healthz") -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def cluster_id() -> str:
    """A Kafka-style cluster id: URL-safe base64 of 16 random bytes, not starting with '-'."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


async def _topic_partitions(admin: Any, names: list[str] | None = None) -> dict[str, int]:
    """topic -> partition count (only topics without a metadata error)."""
    return {
        t["topic"]: len(t["partitions"])
        for t in await admin.describe_topics(names)
        if t["error_code"] == 0
    }


async def _create_topics(bootstrap: str, seconds: float) -> str:
    from aiokafka.admin import NewTopic

    from libs.contracts.topics import TOPIC_PARTITIONS

    wanted = dict(TOPIC_PARTITIONS)
    admin = _admin(bootstrap, request_timeout_ms=int(seconds * 1000))
    created = 0
    try:
        await admin.start()
        existing = await _topic_partitions(admin)
        missing = [name for name in wanted if name not in existing]
        if missing:
            answer = await admin.create_topics(
                [NewTopic(name, wanted[name], 1) for name in missing],
                timeout_ms=int(seconds * 1000),
            )
            errors = []
            for entry in answer.topic_errors:
                name, code = entry[0], entry[1]
                if code == 0:
                    created += 1
                elif code != TOPIC_ALREADY_EXISTS:  # a concurrent creator is fine
                    message = entry[2] if len(entry) > 2 else ""
                    errors.append(f"{name}: error {code} {message or ''}".strip())
            if errors:
                raise LaunchError("creating topics failed: " + "; ".join(errors))
        # wait until every topic is visible with its leaders (creation is asynchronous)
        deadline = time.monotonic() + seconds
        while True:
            have = await _topic_partitions(admin, list(wanted))
            if all(name in have for name in wanted):
                break
            if time.monotonic() > deadline:
                raise LaunchError(
                    f"topics not visible after {seconds:g}s: {sorted(set(wanted) - set(have))}"
                )
            await asyncio.sleep(0.2)
        for name in sorted(wanted):
            if have[name] < wanted[name]:
                print(
                    f"warning: topic {name} exists with {have[name]} partitions "
                    f"(< {wanted[name]}); left as is",
                    file=sys.stderr,
                )
    finally:
        await admin.close()
    return f"kafka: topics ready ({len(wanted)} topics, {created} created)"


def create_topics(bootstrap: str, timeout: float = 30.0) -> str:
    """Create the missing topics with their partition counts; existing ones are left alone."""
    return asyncio.run(_create_topics(bootstrap, timeout))


async def _list_topics(bootstrap: str) -> dict[str, int]:
    admin = _admin(bootstrap)
    try:
        await admin.start()
        return await _topic_partitions(admin)
    finally:
        await admin.close()


def list_topics(bootstrap: str) -> dict[str, int]:
    try:
        return asyncio.run(_list_topics(bootstrap))
    except Exception as exc:
        raise LaunchError(f"kafka on {bootstrap} did not answer ({type(exc).__name__})") from None
