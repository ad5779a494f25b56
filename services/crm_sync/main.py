from __future__ import annotations

from fastapi import FastAPI

from libs.runtime.integration import WorkerSettings
from libs.runtime.mapping import load_section
from libs.runtime.worker_app import create_worker_app
from libs.runtime.worker_metrics import WorkerMetrics

from .integration import SECTION, CrmIntegration, CrmMapping
from .settings import CrmSettings


def create_app(settings: CrmSettings | None = None) -> FastAPI:
    settings = settings or CrmSettings.load()
    # Read the mapping now, so a bad file stops the service at start, not at the first event.
    load_section(settings.mapping_file, SECTION, CrmMapping)

    def make(s: WorkerSettings, metrics: WorkerMetrics) -> CrmIntegration:
        assert isinstance(s, CrmSettings)
        return CrmIntegration(s, metrics)

    return create_worker_app(CrmIntegration.name, settings, make)
