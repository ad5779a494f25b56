from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from libs.runtime.integration import WorkerSettings

from .plan import DEFAULT_STAGE_ORDER


class CrmSettings(WorkerSettings):
    integration: ClassVar[str] = "crm"
    required_secrets: ClassVar[tuple[str, ...]] = ("hubspot_token",)

    service_name: str = "crm_sync"
    port: int = 9103
    hubspot_base_url: str = "https://api.hubapi.com"
    #: a private app's access token (scopes crm.objects.contacts.read and .write)
    hubspot_token: SecretStr = SecretStr("")
    #: the account's lifecycle stages, earliest first, comma-separated (accounts can customise
    #: them); decides which stage changes are forwards
    hubspot_lifecycle_stages: Annotated[tuple[str, ...], NoDecode] = DEFAULT_STAGE_ORDER
    # HubSpot's burst window is 10 s; it may send Retry-After, which wins when present.
    rate_limit_window_seconds: float = 10.0
    # Free/Starter private apps: 100 requests per rolling 10 s (Professional and up: 190).
    rate_limit: int = 100
    rate_window_seconds: float = 10.0
    # enough steps at once to fill a batch upsert of 100 contacts, two batches in flight
    parallel_steps: int = 200
    # Upserts of different customers share one batch call (`batching.ContactUpserts`): a call of
    # the 100 per 10 s carries up to 100 contacts (HubSpot's limit per batch, so no more), which
    # is what lets launch-day bursts through. The first upsert of a batch waits at most
    # `hubspot_batch_wait_seconds` for others to join: a short wait, paid once per batch, not per
    # customer; 0 (or a size of 1) sends each upsert alone. Env: SWITCHBOARD_CRM_HUBSPOT_BATCH_SIZE
    # and SWITCHBOARD_CRM_HUBSPOT_BATCH_WAIT_SECONDS.
    hubspot_batch_size: int = Field(default=100, ge=1, le=100)
    hubspot_batch_wait_seconds: float = Field(default=0.25, ge=0, le=5)

    @field_validator("hubspot_lifecycle_stages", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value
