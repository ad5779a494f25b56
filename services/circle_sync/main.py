from __future__ import annotations

from fastapi import FastAPI

from libs.runtime.integration import WorkerSettings
from libs.runtime.mapping import load_section
from libs.runtime.worker_app import create_worker_app
from libs.runtime.worker_metrics import WorkerMetrics

from .integration import CircleIntegration, CircleMapping
from .settings import CircleSettings


def create_app(settings: CircleSettings | None = None) -> FastAPI:
    settings = settings or CircleSettings.load()
    # Read the mapping now, so a bad file stops the service at start, not at the first event.
    load_section(settings.mapping_file, "circle", CircleMapping)

    def make(s: WorkerSettings, metrics: WorkerMetrics) -> CircleIntegration:
        assert isinstance(s, CircleSettings)
        return CircleIntegration(s, metrics)

    return create_worker_app("circle", settings, make)
