"""Settings shared by every service, read from `SWITCHBOARD_*` environment variables.

Local mode (`SWITCHBOARD_ENV=local`, which `make run` and the tests set) fills anything unset
from `LOCAL_DEFAULTS`, which point at the sandbox. In any other mode a required secret that is
missing, or still equal to its local default, stops the service at start with the setting's name.
"""

from __future__ import annotations

import os
import string
from typing import Annotated, Any, ClassVar, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .local_defaults import LOCAL_DEFAULTS

ENV_PREFIX = "SWITCHBOARD_"

#: A comma-separated list of secrets, e.g. two Stripe signing secrets while one is rolled.
SecretList = Annotated[list[SecretStr], NoDecode]


def split_secrets(value: Any) -> Any:
    if isinstance(value, str):
        return [SecretStr(part.strip()) for part in value.split(",") if part.strip()]
    return value


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    #: names (without prefix, lower case) of secrets this service cannot run without
    required_secrets: ClassVar[tuple[str, ...]] = ()

    env: str = "production"
    service_name: str = "switchboard"
    host: str = "127.0.0.1"
    port: int = 8080
    #: where `/metrics` is served. Unset or equal to `port`: on the main port (the workers,
    #: whose only port is scraped). Another port: a second listener that serves only `/metrics`,
    #: so the NetworkPolicy can open it to monitoring alone (ingest and support).
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    log_level: str = "INFO"
    kafka_bootstrap_servers: str = ""
    mongodb_uri: SecretStr = SecretStr("")
    mongodb_database: str = "switchboard"
    #: Kafka consumer groups and topics get this prefix; tests use it to stay apart.
    kafka_group_prefix: str = "switchboard"

    @property
    def local(self) -> bool:
        return self.env == "local"

    @property
    def separate_metrics_port(self) -> int | None:
        """The metrics listener's port when it is not the main one, else None."""
        if self.metrics_port is None or self.metrics_port == self.port:
            return None
        return self.metrics_port

    @property
    def api_docs(self) -> bool:
        """`/openapi.json` and `/docs` only in local mode: elsewhere they map the attack surface
        for anyone who finds the host, and nobody reads them there."""
        return self.local

    @classmethod
    def load(cls, **overrides: Any) -> Self:
        """Build from the environment, then local defaults (local mode only), then `overrides`."""
        env = overrides.get("env") or os.environ.get(f"{ENV_PREFIX}ENV", "production")
        values: dict[str, Any] = {}
        if env == "local":
            for name, value in LOCAL_DEFAULTS.items():
                field = name.removeprefix(ENV_PREFIX).lower()
                if name not in os.environ and field in cls.model_fields:
                    values[field] = value
        values.update(overrides)
        return cls(**values)

    @model_validator(mode="after")
    def _refuse_missing_or_local_secrets(self) -> Self:
        if self.local:
            return self
        problems = []
        for field in ("kafka_bootstrap_servers", "mongodb_uri", *self.required_secrets):
            env_name = f"{ENV_PREFIX}{field.upper()}"
            raw = _plain(getattr(self, field))
            if not raw:
                problems.append(f"{env_name} is not set")
            elif field in self.required_secrets and raw == LOCAL_DEFAULTS.get(env_name):
                problems.append(f"{env_name} still has its local development value")
            elif field == "admin_tokens":
                problems += weak_admin_tokens(getattr(self, field))
        if problems:
            raise ValueError(
                "refusing to start outside local mode: "
                + "; ".join(problems)
                + f" (set {ENV_PREFIX}ENV=local to run against the sandbox)"
            )
        return self


#: An admin token must carry at least 32 random bytes (256 bits). Entropy cannot be measured from
#: one sample, so the rule is on what a generator of 32 random bytes writes: at least 43
#: characters (base64 or base64url, 6 bits each), or at least 64 when every character is a hex
#: digit (4 bits each), with at least 10 different characters (a random token of that length
#: has far more; `aaaa…` has one). E.g. `python -c "import secrets;
#: print(secrets.token_urlsafe(32))"` or `openssl rand -hex 32`.
ADMIN_TOKEN_MIN_CHARS = 43
ADMIN_TOKEN_MIN_HEX_DIGITS = 64
ADMIN_TOKEN_MIN_DISTINCT = 10


def admin_token_is_strong(token: str) -> bool:
    hex_only = all(ch in string.hexdigits for ch in token)
    needed = ADMIN_TOKEN_MIN_HEX_DIGITS if hex_only else ADMIN_TOKEN_MIN_CHARS
    return len(token) >= needed and len(set(token)) >= ADMIN_TOKEN_MIN_DISTINCT


def weak_admin_tokens(tokens: list[SecretStr]) -> list[str]:
    """The problem with each admin token shorter than 32 random bytes (never the token)."""
    return [
        f"{ENV_PREFIX}ADMIN_TOKENS token {index} of {len(tokens)} is shorter than 32 random "
        f"bytes (needs {ADMIN_TOKEN_MIN_CHARS}+ base64url characters or "
        f"{ADMIN_TOKEN_MIN_HEX_DIGITS}+ hex digits, e.g. from `openssl rand -hex 32`)"
        for index, token in enumerate(tokens, start=1)
        if not admin_token_is_strong(token.get_secret_value())
    ]


def _plain(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, list):
        return ",".join(_plain(item) for item in value)
    return str(value or "")


class ProviderSettings(ServiceSettings):
    """A base URL and timeouts for an outbound provider client."""

    http_timeout_seconds: float = Field(default=10.0, gt=0)


def secret_list_validator(*fields: str) -> Any:
    return field_validator(*fields, mode="before")(split_secrets)
