"""What `switchboard canary` reads besides the command's own settings: where ingest is, the
secret Stripe signs with, the status API's token, and who and what the canary buys. Read like
every setting (`SWITCHBOARD_*`, local defaults under `--local`)."""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, model_validator

from libs.runtime.settings import ENV_PREFIX, SecretList, secret_list_validator

from .errors import CliError
from .settings import LOCAL_HINT, CliSettings

#: where ingest takes Stripe's webhooks
WEBHOOK_PATH = "/webhooks/stripe"


class CanarySettings(CliSettings):
    #: ingest as Stripe reaches it: the canary posts to `{ingest_url}/webhooks/stripe` and asks
    #: `{ingest_url}/v1/customers/status`. Unset, it is taken from `public_ingest_url`.
    ingest_url: str = "http://127.0.0.1:8080"
    #: the webhook URL registered in Stripe (what `switchboard doctor` checks), so one setting
    #: per environment serves both commands
    public_ingest_url: str = ""
    #: ingest's signing secrets; the canary signs with the first, as Stripe does with the
    #: endpoint's current one
    stripe_webhook_secrets: SecretList = []
    #: the status API's tokens; the canary asks with the first
    app_tokens: SecretList = []
    #: the canary customer is `canary@<this domain>`, the same every run (`.invalid` never
    #: receives mail)
    canary_email_domain: str = "canary.switchboard.invalid"
    #: the Stripe product the canary buys; the mapping routes it to its own group and tag
    canary_product: str = "prod_switchboard_canary"
    #: how often the canary asks whether the integrations are done
    canary_poll_seconds: float = Field(default=1.0, gt=0)
    #: how often the canary is run (the CronJob's schedule): recorded with each run, so
    #: `SwitchboardCanaryStale` knows when a run is overdue
    canary_interval_seconds: float = Field(default=14400.0, gt=0)

    _split_canary = secret_list_validator("stripe_webhook_secrets", "app_tokens")

    @model_validator(mode="after")
    def _ingest_from_the_public_url(self) -> Self:
        if "ingest_url" not in self.model_fields_set and self.public_ingest_url:
            self.ingest_url = self.public_ingest_url.rstrip("/").removesuffix(WEBHOOK_PATH)
        return self

    def require_webhook_secret(self) -> str:
        return _first(self.stripe_webhook_secrets, "STRIPE_WEBHOOK_SECRETS")

    def require_app_token(self) -> str:
        return _first(self.app_tokens, "APP_TOKENS")


def _first(values: list[Any], name: str) -> str:
    found = [v.get_secret_value() for v in values if v.get_secret_value()]
    if not found:
        raise CliError(f"{ENV_PREFIX}{name} is not set {LOCAL_HINT}")
    return str(found[0])


def canary_settings(settings: CliSettings, *, local: bool) -> CanarySettings:
    """The given settings when they are the canary's (tests), else read them again as such."""
    if isinstance(settings, CanarySettings):
        return settings
    try:
        return CanarySettings.load(**({"env": "local"} if local else {}))
    except ValueError as exc:  # pydantic's ValidationError: a setting that does not parse
        first = " ".join(line.strip() for line in str(exc).splitlines()[:3] if line.strip())
        raise CliError(f"invalid settings: {first}") from None
