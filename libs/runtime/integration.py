"""What a sync worker plugs into the shared loop: one `Integration` per provider folder."""

from __future__ import annotations

import hashlib
import os
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self

from pydantic import Field

from libs.contracts import CustomerEvent

from .mapping import DEFAULT_MAPPING_FILE
from .retry import RetryPolicy
from .settings import ENV_PREFIX, ServiceSettings


class Mode(StrEnum):
    OFF = "off"
    SHADOW = "shadow"  # plan and log, call nothing that changes the provider
    ON = "on"


class WorkerSettings(ServiceSettings):
    """Settings every worker has. Mode and rollout are read per integration
    (`SWITCHBOARD_<INTEGRATION>_MODE`, `..._ROLLOUT_PERCENT`) so one environment can hold all."""

    integration: ClassVar[str] = ""

    mode: Mode = Mode.ON
    rollout_percent: float = Field(default=100.0, ge=0, le=100)
    mapping_file: Path = DEFAULT_MAPPING_FILE
    concurrency: int = Field(default=4, ge=1, le=64)  # consumers per process, one per partition set
    retries: int = Field(default=4, ge=3)
    backoff_base_seconds: float = Field(default=0.2, gt=0)
    backoff_max_seconds: float = Field(default=10.0, gt=0)
    max_retry_after_seconds: float = Field(default=60.0, gt=0)
    rate_limit_window_seconds: float = Field(default=60.0, gt=0)
    dedupe_retention_days: float = Field(default=14.0, gt=0)
    http_timeout_seconds: float = Field(default=10.0, gt=0)

    @classmethod
    def load(cls, **overrides: Any) -> Self:
        prefix = f"{ENV_PREFIX}{cls.integration.upper()}_"
        for field in ("mode", "rollout_percent", "concurrency", "retries"):
            env_name = prefix + field.upper()
            if env_name in os.environ and field not in overrides:
                overrides[field] = os.environ[env_name]
        return super().load(**overrides)

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            retries=self.retries,
            base_seconds=self.backoff_base_seconds,
            max_backoff_seconds=self.backoff_max_seconds,
            max_retry_after_seconds=self.max_retry_after_seconds,
            rate_limit_window_seconds=self.rate_limit_window_seconds,
        )


def in_rollout(customer_id: str, percent: float) -> bool:
    """Stable: the same customer is in or out on every run, every replica, every restart."""
    if percent >= 100:
        return True
    bucket = int.from_bytes(hashlib.sha256(customer_id.encode()).digest()[:8], "big") % 10_000
    return bucket < percent * 100


class Integration(Protocol):
    """A provider's sync. `sync` reads the provider, plans with a pure function and, unless
    `dry_run`, executes. It returns the planned action names and raises `ProviderError`
    (with `.action` set) when a call fails. It must be safe to run again after any failure."""

    name: ClassVar[str]

    async def sync(self, event: CustomerEvent, *, dry_run: bool) -> list[str]: ...

    async def aclose(self) -> None: ...
