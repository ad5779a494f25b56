"""The Kafka broker every service uses: one producer configuration, keys are customer ids."""

from __future__ import annotations

import logging

from faststream.kafka import KafkaBroker

from .settings import ServiceSettings


def make_broker(settings: ServiceSettings, *, consumer_only: bool = False) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=settings.service_name,
        # acks=all: a publish that returned survives a broker restart. No idempotent producer:
        # after a broker restart aiokafka's idempotent sender can die for good on
        # OutOfOrderSequenceNumber (every later publish fails until the process restarts; the
        # soak found ingest stuck so). A producer retry may then write a record twice, which
        # every consumer tolerates by design (versions, dedupe records). aiokafka keeps one
        # batch in flight per partition, so retries do not reorder a customer's messages.
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        consumer_only=consumer_only,
        allow_auto_create_topics=False,
        graceful_timeout=25.0,
        request_timeout_ms=15_000,
        logger=logging.getLogger("faststream.switchboard"),
        log_level=logging.DEBUG,
    )


def key(customer_id: str) -> bytes:
    """Kafka key for a customer: every message of one customer lands on one partition, in order."""
    return customer_id.encode()
