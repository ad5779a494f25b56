"""The doctor's Kafka and store checks when there is nothing to reach (the real ones are in
tests/e2e/test_doctor.py): each is one failed check with a fix, quickly, never a traceback."""

from __future__ import annotations

import time

from services.cli.doctor_infra import RealInfra

from .test_doctor_support import settings


async def test_unset_kafka_and_store_fail_with_the_variable_to_set() -> None:
    config = settings(kafka_bootstrap_servers="", mongodb_uri="")
    kafka = await RealInfra().kafka(config)
    assert [c.name for c in kafka] == ["kafka", "kafka topics", "consumer lag"]
    assert not any(c.ok for c in kafka)
    assert "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS" in kafka[0].fix
    [store] = await RealInfra().store(config)
    assert not store.ok
    assert "SWITCHBOARD_MONGODB_URI" in store.fix


async def test_unreachable_kafka_and_store_fail_within_the_timeout() -> None:
    config = settings(
        kafka_bootstrap_servers="127.0.0.1:1",
        mongodb_uri="mongodb://user:secret-password@127.0.0.1:1/?directConnection=true",
        doctor_infra_timeout_seconds=1,
    )
    started = time.monotonic()
    kafka = await RealInfra().kafka(config)
    [store] = await RealInfra().store(config)
    assert time.monotonic() - started < 10
    assert not kafka[0].ok
    assert kafka[0].detail.startswith("127.0.0.1:1")
    assert not store.ok
    assert store.detail.startswith("127.0.0.1:1")
    assert "secret-password" not in store.detail
