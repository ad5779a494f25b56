"""Shared fixtures. Integration and end-to-end tests need the real Kafka and FerretDB that
`make test` starts (`python -m deploy.local start`); they fail, not skip, when those are missing,
so a green run always means the real stack was exercised."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient

KAFKA_ENV = "SWITCHBOARD_TEST_KAFKA"
MONGO_ENV = "SWITCHBOARD_TEST_MONGODB_URI"


def require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            f"{name} is not set: run the suite with `make test`, which starts Kafka and FerretDB",
            pytrace=False,
        )
    return value


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return require(KAFKA_ENV)


@pytest.fixture(scope="session")
def mongodb_uri() -> str:
    return require(MONGO_ENV)


@pytest.fixture
async def mongo_db(mongodb_uri: str) -> AsyncIterator[object]:
    """A fresh database per test, dropped afterwards."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongodb_uri, tz_aware=True)
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


def unique_email(tag: str = "buyer") -> str:
    return f"{tag}.{uuid.uuid4().hex[:10]}@example.com"
