from __future__ import annotations

from fastapi import FastAPI

from libs.runtime.worker_app import WorkerAdapters, create_worker_app
from services.ingest.canonical_states import MongoCanonicalStates

from .integration import CircleIntegration
from .settings import CircleSettings


def create_app(
    settings: CircleSettings | None = None, adapters: WorkerAdapters | None = None
) -> FastAPI:
    """The worker; `adapters` None: the real ones (tests pass fakes)."""
    return create_worker_app(
        CircleIntegration,
        settings or CircleSettings.load(),
        adapters,
        canonical=MongoCanonicalStates,
    )
