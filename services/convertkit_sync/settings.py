from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr

from libs.runtime.integration import WorkerSettings


class ConvertkitSettings(WorkerSettings):
    integration: ClassVar[str] = "convertkit"
    required_secrets: ClassVar[tuple[str, ...]] = ("kit_api_key",)

    service_name: str = "convertkit_sync"
    port: int = 9102
    kit_base_url: str = "https://api.kit.com"
    #: a v4 API key (Settings → Developer), sent as X-Kit-Api-Key
    kit_api_key: SecretStr = SecretStr("")
    # Kit sends no Retry-After; its limit is 120 requests per rolling 60 s per key.
    rate_limit_window_seconds: float = 60.0
    rate_limit: int = 120
    rate_window_seconds: float = 60.0
