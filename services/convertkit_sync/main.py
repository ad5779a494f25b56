from __future__ import annotations

from fastapi import FastAPI

from libs.runtime.integration import WorkerSettings
from libs.runtime.mapping import load_section
from libs.runtime.worker_app import create_worker_app
from libs.runtime.worker_metrics import WorkerMetrics

from .integration import SECTION, KitIntegration, KitMapping
from .settings import KitSettings


def create_app(settings: KitSettings | None = None) -> FastAPI:
    settings = settings or KitSettings.load()
    # Read the mapping now, so a bad file stops the service at start, not at the first event.
    load_section(settings.mapping_file, SECTION, KitMapping)

    def make(s: WorkerSettings, metrics: WorkerMetrics) -> KitIntegration:
        assert isinstance(s, KitSettings)
        return KitIntegration(s, metrics)

    return create_worker_app(KitIntegration.name, settings, make)
