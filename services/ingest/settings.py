from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from libs.contracts import INTEGRATIONS
from libs.runtime.settings import SecretList, ServiceSettings, secret_list_validator


class IngestSettings(ServiceSettings):
    required_secrets: ClassVar[tuple[str, ...]] = (
        "stripe_webhook_secrets",
        "app_tokens",
        "stripe_api_key",
    )

    service_name: str = "ingest"
    port: int = 8080
    metrics_port: int | None = Field(default=9180, ge=1, le=65535)
    stripe_webhook_secrets: SecretList = []
    stripe_signature_tolerance_seconds: int = Field(default=300, ge=1)
    app_tokens: SecretList = []
    #: throttle of `GET /v1/customers/status`: requests per window per client IP and per app
    #: token (429 with `Retry-After` beyond that); 0 turns one off
    status_rate_limit_per_ip: int = Field(default=60, ge=0)
    status_rate_limit_per_token: int = Field(default=600, ge=0)
    status_rate_window_seconds: float = Field(default=60.0, gt=0)
    #: `GET /v1/checkout-sessions/{id}/status` answers for this long after the session's
    #: checkout was recorded, then 404 as for an unknown id (an old success URL stops working)
    checkout_status_ttl_seconds: int = Field(default=3600, gt=0)
    #: ... and at most this many requests per minute per client IP (429 beyond); 0 turns it off
    checkout_status_rate_limit: int = Field(default=120, ge=0)
    stripe_api_base_url: str = "https://api.stripe.com"
    stripe_api_key: SecretStr = SecretStr("")
    max_body_bytes: int = 1024 * 1024
    #: integrations whose confirmation moves a customer from paid to active
    enabled_integrations: list[str] = list(INTEGRATIONS)
    #: an accepted event not published after this long is finished by the relay
    relay_after_seconds: float = Field(default=5.0, gt=0)
    relay_interval_seconds: float = Field(default=1.0, gt=0)
    #: how often the relay looks for leftovers when nothing is known to be left
    relay_sweep_seconds: float = Field(default=10.0, gt=0)

    #: serve POST /bench/bare (answers 200, nothing else): the benchmark's ceiling
    bench_bare_endpoint: bool = False

    _split = secret_list_validator("stripe_webhook_secrets", "app_tokens")
