from __future__ import annotations

from fastapi import FastAPI

from libs.runtime.worker_app import WorkerAdapters, create_worker_app
from services.ingest.canonical_states import MongoCanonicalStates

from .integration import CrmIntegration
from .settings import CrmSettings


def create_app(
    settings: CrmSettings | None = None, adapters: WorkerAdapters | None = None
) -> FastAPI:
    """The worker; `adapters` None: the real ones (tests pass fakes)."""
    return create_worker_app(
        CrmIntegration, settings or CrmSettings.load(), adapters, canonical=MongoCanonicalStates
    )
