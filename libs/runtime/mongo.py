"""The MongoDB client every service uses. Created inside the app's lifespan, never at import."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from .settings import ServiceSettings

Document = dict[str, Any]

#: the server's code for a duplicate key (a unique `_id` taken): how every insert-once knows
DUPLICATE_KEY = 11000


class ConcurrentUpdate(Exception):
    """Another writer changed the record first (a compare-and-set lost); re-read and retry."""


def make_client(settings: ServiceSettings) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        settings.mongodb_uri.get_secret_value(),
        tz_aware=True,
        serverSelectionTimeoutMS=3000,
        connectTimeoutMS=3000,
        appname=settings.service_name,
    )


def database(
    client: AsyncMongoClient[Document], settings: ServiceSettings
) -> AsyncDatabase[Document]:
    return client[settings.mongodb_database]


async def ping(client: AsyncMongoClient[Document]) -> bool:
    try:
        await client.admin.command("ping")
    except Exception:  # readiness only reports; the cause is in the driver's own logs
        return False
    return True
