from __future__ import annotations

from fastapi import FastAPI

from libs.runtime.worker_app import WorkerAdapters, create_worker_app
from services.ingest.canonical_states import MongoCanonicalStates

from .integration import ConvertkitIntegration
from .settings import ConvertkitSettings


def create_app(
    settings: ConvertkitSettings | None = None, adapters: WorkerAdapters | None = None
) -> FastAPI:
    """The worker; `adapters` None: the real ones (tests pass fakes)."""
    return create_worker_app(
        ConvertkitIntegration,
        settings or ConvertkitSettings.load(),
        adapters,
        canonical=MongoCanonicalStates,
    )
