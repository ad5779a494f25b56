"""The sandbox's settings: the credentials the services send, where ingest listens, and the limits.

Credentials use the same names as the services (`SWITCHBOARD_CIRCLE_TOKEN`, ...) so one environment
configures both sides; each falls back to the local default, as `make run` does. The rate limits
start at the real providers' published values; tests and benchmarks raise them (0 turns one off).
So do the lags of Kit's lists and HubSpot's search (0: a write shows up there at once).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.runtime.local_defaults import LOCAL_DEFAULTS


def _default(name: str) -> str:
    return LOCAL_DEFAULTS[f"SWITCHBOARD_{name}"]


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` requests per rolling `window_s` seconds; `limit <= 0` means unlimited."""

    limit: int
    window_s: float


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore")

    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8070
    sandbox_ingest_url: str = "http://127.0.0.1:8080/webhooks/stripe"
    sandbox_ingest_timeout_s: float = 10.0

    circle_token: str = _default("CIRCLE_TOKEN")
    kit_api_key: str = _default("KIT_API_KEY")
    hubspot_token: str = _default("HUBSPOT_TOKEN")
    zendesk_email: str = _default("ZENDESK_EMAIL")
    zendesk_token: str = _default("ZENDESK_TOKEN")
    stripe_api_key: str = _default("STRIPE_API_KEY")
    # Comma-separated, like ingest reads it; the sandbox signs with the first one.
    stripe_webhook_secrets: str = _default("STRIPE_WEBHOOK_SECRETS")
    # Restricted keys of the stand-in Stripe account besides the standard one above, read-only
    # unless `POST /_sandbox/doctor` says otherwise: what `switchboard doctor` expects a
    # deployment to use (least privilege). Comma-separated.
    sandbox_stripe_restricted_keys: str = "rk_test_local_dev_only"

    # Circle: 2,000 requests per 5 minutes per client IP.
    sandbox_circle_rate_limit: int = 2000
    sandbox_circle_rate_window_s: float = 300.0
    # Kit: 120 requests per rolling 60 s per API key.
    sandbox_kit_rate_limit: int = 120
    sandbox_kit_rate_window_s: float = 60.0
    # HubSpot (Free/Starter private app): 100 requests per rolling 10 s.
    sandbox_hubspot_rate_limit: int = 100
    sandbox_hubspot_rate_window_s: float = 10.0
    # HubSpot's CRM search endpoints: 5 requests per second per account, besides the above.
    sandbox_hubspot_search_rate_limit: int = 5
    sandbox_hubspot_search_rate_window_s: float = 1.0
    # Zendesk (Suite Team): 200 requests per minute for the account.
    sandbox_zendesk_rate_limit: int = 200
    sandbox_zendesk_rate_window_s: float = 60.0
    # Stripe live mode allows about 100 read requests per second.
    sandbox_stripe_rate_limit: int = 100
    sandbox_stripe_rate_window_s: float = 1.0

    # Access groups that exist in the stand-in Circle community from the start (and after reset).
    # `Canary`: what the mapping gives `switchboard canary`'s customers (config/mapping.yaml)
    sandbox_circle_access_groups: str = "Members,Alumni,Canary"
    # Kit tags the account has from the start, kept on reset like the access groups. None by
    # default, so tests see the worker create a tag on first use; `make run` seeds the ones
    # config/mapping.yaml names, as a configured account has them (`switchboard doctor`).
    sandbox_kit_tags: str = ""
    # Custom HubSpot contact properties that exist from the start; writing any other unknown
    # property fails as it does on the real account.
    sandbox_hubspot_custom_properties: str = "switchboard_lifecycle,switchboard_customer_id"
    sandbox_zendesk_idempotency_ttl_s: float = Field(default=7200.0, gt=0)

    # Eventual consistency, where the providers have it (`sandbox/replica.py`): Kit's list and
    # filter endpoints lag writes by ~30 s at the median (up to ~5 min), HubSpot's CRM search by
    # seconds (up to ~30 s). The defaults are Kit's median and a typical HubSpot lag rather than
    # the tails: realistic enough that `make run` shows read-after-write going stale, short
    # enough that a developer waits it out. Tests and benchmarks that make drift by hand and
    # sweep at once set 0; tests about the lag change it at runtime (`/_sandbox/consistency`).
    sandbox_kit_list_lag_s: float = Field(default=30.0, ge=0)
    sandbox_hubspot_search_lag_s: float = Field(default=5.0, ge=0)

    @property
    def webhook_secrets(self) -> list[str]:
        return _split(self.stripe_webhook_secrets)

    @property
    def stripe_restricted_keys(self) -> list[str]:
        return _split(self.sandbox_stripe_restricted_keys)

    @property
    def circle_access_groups(self) -> list[str]:
        return _split(self.sandbox_circle_access_groups)

    @property
    def kit_tags(self) -> list[str]:
        return _split(self.sandbox_kit_tags)

    @property
    def hubspot_custom_properties(self) -> list[str]:
        return _split(self.sandbox_hubspot_custom_properties)

    @property
    def sandbox_url(self) -> str:
        return f"http://{self.sandbox_host}:{self.sandbox_port}"

    def rate_limit(self, provider: str) -> RateLimit:
        return RateLimit(
            limit=getattr(self, f"sandbox_{provider}_rate_limit"),
            window_s=getattr(self, f"sandbox_{provider}_rate_window_s"),
        )


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
