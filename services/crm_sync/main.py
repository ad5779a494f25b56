"""Placeholder until this service is built: serves /healthz, /readyz and /metrics only."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from libs.runtime.http import make_http_app
from libs.runtime.logging import configure_logging
from libs.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "crm_sync"
    port: int = 9103


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.load()
    configure_logging(settings.service_name, settings.log_level)
    return make_http_app(title="Switchboard crm_sync", registry=CollectorRegistry(), readiness={})
