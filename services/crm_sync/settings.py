from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import SecretStr, field_validator
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

    @field_validator("hubspot_lifecycle_stages", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value
