"""The command's settings, read exactly like the services' (`SWITCHBOARD_*`, local defaults only
under `SWITCHBOARD_ENV=local` or `--local`), so whatever environment runs the services runs the
command. It is a client: it needs only what the chosen subcommand talks to, so instead of the
services' refusal of a missing Kafka or store at load, each subcommand asks for what it needs
(`require_*`) and the error names the variable."""

from __future__ import annotations

from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from libs.runtime.settings import ENV_PREFIX, SecretList, ServiceSettings, secret_list_validator

from .errors import CliError

#: said after every missing setting, since forgetting local mode is the usual cause locally
LOCAL_HINT = f"(against `make run`, pass --local or set {ENV_PREFIX}ENV=local)"


class CliSettings(ServiceSettings):
    service_name: str = "switchboard-cli"
    #: support's HTTP address (ops console and admin API)
    support_url: str = "http://127.0.0.1:8081"
    #: the admin API's bearer tokens, as support reads them; the command sends the first
    admin_tokens: SecretList = []
    http_timeout_seconds: float = Field(default=10.0, gt=0)

    _split = secret_list_validator("admin_tokens")

    # Same name as the services' check, so it replaces it: a client is not refused for a Kafka
    # address it never uses; `require_*` below names what a subcommand lacks.
    @model_validator(mode="after")
    def _refuse_missing_or_local_secrets(self) -> Self:
        return self

    def require_mongodb_uri(self) -> str:
        uri = self.mongodb_uri.get_secret_value()
        if not uri:
            raise CliError(f"{ENV_PREFIX}MONGODB_URI is not set {LOCAL_HINT}")
        return uri

    def require_admin_token(self) -> str:
        tokens = [t.get_secret_value() for t in self.admin_tokens if t.get_secret_value()]
        if not tokens:
            raise CliError(f"{ENV_PREFIX}ADMIN_TOKENS is not set {LOCAL_HINT}")
        return tokens[0]


def load_settings(*, local: bool, **overrides: Any) -> CliSettings:
    """`--local` is `SWITCHBOARD_ENV=local` for this one command: the local defaults fill what
    the environment leaves unset, and a variable that is set still wins."""
    if local:
        overrides.setdefault("env", "local")
    try:
        return CliSettings.load(**overrides)
    except ValueError as exc:  # pydantic's ValidationError: a setting that does not parse
        raise CliError(f"invalid settings: {_first_line(exc)}") from None


def store_hosts(uri: str) -> str:
    """Where a MongoDB URI points, without its credentials: safe to print."""
    netloc = urlsplit(uri).netloc if "://" in uri else uri
    return netloc.rpartition("@")[2] or "?"


def _first_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:3])
