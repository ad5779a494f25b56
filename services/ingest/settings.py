from __future__ import annotations

from typing import ClassVar, Self

from pydantic import Field, SecretStr, model_validator

from libs.contracts import INTEGRATIONS
from libs.runtime.settings import SecretList, ServiceSettings, secret_list_validator

#: what `make run` and the tests sign status tokens with (local mode only)
LOCAL_STATUS_TOKEN_SECRET = "local-status-token-secret-dev-only"  # noqa: S105 (refused outside local)


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
    #: HS256 secrets of the status tokens the app's backend signs (`GET /v1/customers/me/status`,
    #: several while rolling; none: that route refuses every token), and their longest life. In
    #: local mode, unset means `LOCAL_STATUS_TOKEN_SECRET`, which is refused anywhere else.
    status_token_secrets: SecretList = []
    status_token_max_ttl_seconds: int = Field(default=900, gt=0)
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
    _split_status_token = secret_list_validator("status_token_secrets")

    @model_validator(mode="after")
    def _status_token_secrets(self) -> Self:
        if self.local:
            if not self.status_token_secrets:
                self.status_token_secrets = [SecretStr(LOCAL_STATUS_TOKEN_SECRET)]
            return self
        values = [s.get_secret_value() for s in self.status_token_secrets]
        if any(len(v) < 32 or v == LOCAL_STATUS_TOKEN_SECRET for v in values):
            raise ValueError(
                "refusing to start outside local mode: SWITCHBOARD_STATUS_TOKEN_SECRETS holds a "
                "secret shorter than 32 characters or the local one (e.g. `openssl rand -hex 32`)"
            )
        return self
