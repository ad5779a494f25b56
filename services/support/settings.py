"""Settings of the support service (failure intake, Zendesk tickets, ops console, admin API)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from libs.contracts import INTEGRATIONS
from libs.runtime.settings import ProviderSettings, SecretList, secret_list_validator


class SupportSettings(ProviderSettings):
    required_secrets: ClassVar[tuple[str, ...]] = ("admin_tokens", "zendesk_token")

    service_name: str = "support"
    port: int = 8081
    metrics_port: int | None = Field(default=9181, ge=1, le=65535)
    #: bearer tokens of the admin API; the console's login form takes the same tokens
    admin_tokens: SecretList = []
    zendesk_base_url: str = "https://example.zendesk.com"
    zendesk_email: str = ""
    zendesk_token: SecretStr = SecretStr("")
    #: pacing of Zendesk calls: its published limit per account (Team 200 a minute, Growth and
    #: Professional 400, Enterprise 700); 0 turns pacing off
    zendesk_rate_limit: int = Field(default=200, ge=0)
    zendesk_rate_window_seconds: float = Field(default=60.0, gt=0)
    #: where people reach the console; ticket bodies link to the customer's page under it.
    #: Empty: `http://127.0.0.1:<port>` (local runs).
    console_base_url: str = ""
    #: integrations whose failure topics support consumes (one folder each under services/)
    integrations: list[str] = list(INTEGRATIONS)
    #: how often incidents with unfinished effects (ticket, comment, solve, announcement) are
    #: retried, e.g. after Zendesk or Kafka was down
    sweep_interval_seconds: float = Field(default=5.0, gt=0)
    #: sync outcomes kept per customer for the timeline (older ones are trimmed)
    timeline_limit: int = Field(default=300, ge=10)
    #: the console cookie's `Secure` flag; unset: on, except in local mode (plain http)
    cookie_secure: bool | None = None
    #: throttles (requests per window; 0 turns one off), answered 429 with `Retry-After`: the
    #: admin API per client IP and per bearer token, the console's login per client IP and per
    #: attempted token
    admin_rate_limit_per_ip: int = Field(default=300, ge=0)
    admin_rate_limit_per_token: int = Field(default=600, ge=0)
    admin_rate_window_seconds: float = Field(default=60.0, gt=0)
    login_rate_limit_per_ip: int = Field(default=10, ge=0)
    login_rate_limit_per_token: int = Field(default=5, ge=0)
    login_rate_window_seconds: float = Field(default=60.0, gt=0)
    #: after this many failed logins from one address (a wrong token in the form or in the
    #: cookie), each further failure locks the address out for twice as long as the last, from
    #: 1 s up to `login_backoff_max_seconds`; a successful login starts it again from 0
    login_backoff_after_failures: int = Field(default=5, ge=1)
    login_backoff_max_seconds: float = Field(default=900.0, gt=0)

    _split = secret_list_validator("admin_tokens")

    @property
    def secure_cookie(self) -> bool:
        return self.cookie_secure if self.cookie_secure is not None else not self.local

    @property
    def console_url(self) -> str:
        return (self.console_base_url or f"http://127.0.0.1:{self.port}").rstrip("/")
