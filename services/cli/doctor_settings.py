"""What `switchboard doctor` reads: every credential the services use, under the services' own
names, plus where Stripe should deliver (`SWITCHBOARD_PUBLIC_INGEST_URL`) and, optionally, the
other environment's secrets to compare with (`SWITCHBOARD_DOCTOR_OTHER_ENV_FILE`).

Nothing here is refused at load: a missing or wrong value is what the command is there to
report, as a failed check with its fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr

from libs.runtime.mapping import DEFAULT_MAPPING_FILE
from libs.runtime.settings import SecretList, secret_list_validator

from .errors import CliError
from .settings import CliSettings, _first_line

#: where `make run`'s ingest takes Stripe's webhooks (local mode's default ingest URL)
LOCAL_INGEST_URL = "http://127.0.0.1:8080/webhooks/stripe"


class DoctorSettings(CliSettings):
    circle_base_url: str = "https://app.circle.so"
    circle_token: SecretStr = SecretStr("")
    kit_base_url: str = "https://api.kit.com"
    kit_api_key: SecretStr = SecretStr("")
    hubspot_base_url: str = "https://api.hubapi.com"
    hubspot_token: SecretStr = SecretStr("")
    zendesk_base_url: str = ""
    zendesk_email: str = ""
    zendesk_token: SecretStr = SecretStr("")
    stripe_api_base_url: str = "https://api.stripe.com"
    stripe_api_key: SecretStr = SecretStr("")
    stripe_webhook_secrets: SecretList = []
    app_tokens: SecretList = []
    mapping_file: Path = DEFAULT_MAPPING_FILE
    #: the URL Stripe should call for this environment (ingest's `POST /webhooks/stripe`, as
    #: the internet reaches it); local mode defaults to `make run`'s ingest
    public_ingest_url: str = ""
    #: a file of the other environment's SWITCHBOARD_* secrets (KEY=VALUE lines, as an env
    #: file); none of them may equal one of ours
    doctor_other_env_file: Path | None = None
    #: a worker group this many messages behind on customer.events.v1 fails the lag check
    doctor_max_lag: int = Field(default=1000, ge=0)
    #: Kafka and the store each get this long to answer
    doctor_infra_timeout_seconds: float = Field(default=10.0, gt=0)

    _split_lists = secret_list_validator("stripe_webhook_secrets", "app_tokens")

    @property
    def ingest_url(self) -> str:
        return self.public_ingest_url or (LOCAL_INGEST_URL if self.local else "")


def load_doctor_settings(*, local: bool, **overrides: Any) -> DoctorSettings:
    if local:
        overrides.setdefault("env", "local")
    try:
        return DoctorSettings.load(**overrides)
    except ValueError as exc:
        raise CliError(f"invalid settings: {_first_line(exc)}") from None
