"""What a sync worker plugs into the shared loop: one `Integration` per provider folder."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, Self

from pydantic import Field, model_validator

from libs.contracts import CustomerEvent

from .ledger import Ledger
from .mapping import DEFAULT_MAPPING_FILE
from .retry import RetryPolicy
from .settings import ENV_PREFIX, ServiceSettings


class Mode(StrEnum):
    OFF = "off"
    SHADOW = "shadow"  # plan and log, call nothing that changes the provider
    ON = "on"


class WorkerSettings(ServiceSettings):
    """Settings every worker has. Each can be set for one integration
    (`SWITCHBOARD_<INTEGRATION>_<FIELD>`, e.g. `SWITCHBOARD_CIRCLE_MODE`,
    `SWITCHBOARD_CIRCLE_RATE_LIMIT_WINDOW_SECONDS`) or for every worker at once
    (`SWITCHBOARD_<FIELD>`); the integration's own name wins, so one environment can hold all."""

    integration: ClassVar[str] = ""

    mode: Mode = Mode.ON
    rollout_percent: float = Field(default=100.0, ge=0, le=100)
    mapping_file: Path = DEFAULT_MAPPING_FILE
    #: consumers per process, each owning a share of the partitions (in order within each).
    #: One per partition of `customer.events.v1` by default: a lane waiting on a slow provider
    #: or a retry holds up only its own partitions (4 lanes made a Circle outage's retries
    #: stall a third of the customers each; the quick soak converged 27 s after the faults
    #: with 12, 37 s with 4). Kubernetes sets fewer per pod and scales pods instead.
    concurrency: int = Field(default=12, ge=1, le=64)
    #: steps run at once, each for one customer (`step_queue.py`); most wait on the pacer,
    #: where an access removal goes first. The CRM sync runs more: their upserts share batches.
    parallel_steps: int = Field(default=16, ge=1, le=1000)
    #: events read ahead of their steps (latest state wins and revocations first look at
    #: these); when full, the consumers stop reading until a step finishes
    held_events: int = Field(default=5000, ge=1)
    #: error retries per event (attempts = retries + 1). With the backoff below they span about
    #: a minute (at most 1.5): a provider's brief outage or 503 burst is ridden out instead of
    #: ending in a ticket and a manual replay, as 4 retries over ~1.5 s did.
    retries: int = Field(default=8, ge=3)
    backoff_base_seconds: float = Field(default=0.5, gt=0)
    backoff_max_seconds: float = Field(default=30.0, gt=0)
    max_retry_after_seconds: float = Field(default=60.0, gt=0)
    #: how long a 429 without Retry-After makes us wait: the provider's rate-limit window
    rate_limit_window_seconds: float = Field(default=60.0, gt=0)
    #: total wait on 429s per event before it fails; keep it well under the consumer's
    #: max poll interval (`consumer_max_poll_interval_seconds`)
    rate_limit_budget_seconds: float = Field(default=240.0, ge=0)
    http_timeout_seconds: float = Field(default=10.0, gt=0)
    #: pacing (`pacing.py`): at most `rate_limit` provider calls per rolling
    #: `rate_window_seconds` for the provider credential, shared by `replicas` (each takes its
    #: share; set it to the deployment's replica count, or KEDA's maxReplicaCount). Each worker
    #: defaults to its provider's published limit; 0 turns pacing off.
    rate_limit: int = Field(default=0, ge=0)
    rate_window_seconds: float = Field(default=60.0, gt=0)
    replicas: int = Field(default=1, ge=1)
    #: the provider's monthly request quota (Circle Business: 5,000); 0: none. Feeds
    #: `switchboard_provider_quota_used_ratio` and its alert.
    monthly_quota: int = Field(default=0, ge=0)
    #: reconcile sweeps (`libs/reconcile`): one every this many seconds (0: only on demand,
    #: `switchboard reconcile`), one replica at a time, each using at most this share of the
    #: pacing budget above and of the monthly quota
    reconcile_interval_seconds: float = Field(default=3600.0, ge=0)
    reconcile_budget_share: float = Field(default=0.2, gt=0, le=1)
    #: someone who is no customer holds a managed group or tag: `report` it, or `remove` it
    reconcile_unknown: Literal["report", "remove"] = "report"
    #: a customer the worker wrote less than this long ago is left for the next sweep: a
    #: provider's lists lag its writes (Kit's by up to minutes)
    reconcile_settle_seconds: float = Field(default=300.0, ge=0)
    #: how often a worker looks for a sweep someone asked for
    reconcile_poll_seconds: float = Field(default=5.0, gt=0)
    #: on SIGTERM, how long in-flight attempts may take to finish before the consumer stops
    shutdown_grace_seconds: float = Field(default=15.0, ge=0)
    consumer_max_poll_interval_seconds: float = Field(default=600.0, gt=0)
    consumer_session_timeout_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _rate_limit_wait_fits_the_poll_interval(self) -> Self:
        # A handler that does not return within the max poll interval is thrown out of the group.
        if self.rate_limit_budget_seconds >= self.consumer_max_poll_interval_seconds:
            raise ValueError(
                "rate_limit_budget_seconds must stay below consumer_max_poll_interval_seconds"
            )
        return self

    @classmethod
    def load(cls, **overrides: Any) -> Self:
        prefix = f"{ENV_PREFIX}{cls.integration.upper()}_"
        if cls.integration:
            for field in WorkerSettings.model_fields:
                if field in ServiceSettings.model_fields or field in overrides:
                    continue
                env_name = prefix + field.upper()
                if env_name in os.environ:
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
            rate_limit_budget_seconds=self.rate_limit_budget_seconds,
        )


def in_rollout(customer_id: str, percent: float) -> bool:
    """Stable: the same customer is in or out on every run, every replica, every restart."""
    if percent >= 100:
        return True
    bucket = int.from_bytes(hashlib.sha256(customer_id.encode()).digest()[:8], "big") % 10_000
    return bucket < percent * 100


class Integration(Protocol):
    """A provider's sync. `sync` plans with a pure function against the customer's `ledger`
    (what the worker's earlier writes established: `ledger.py`), or against a read of the
    provider when the ledger is not trusted or None, and, unless `dry_run`, executes, saving
    into the ledger what each write established. It returns the planned action names and
    raises `ProviderError` (with `.action` set) when a call fails. It must be safe to run again
    after any failure."""

    name: ClassVar[str]

    async def sync(
        self, event: CustomerEvent, *, dry_run: bool, ledger: Ledger | None = None
    ) -> list[str]: ...

    # Optional: `desired_key(event) -> str`, a stable key of what `sync` would establish in the
    # provider for this event (`desired_key` below). When it equals the key of the version last
    # synced, the worker skips the provider altogether: an event that changes nothing this
    # integration holds (the `paid` -> `active` follow-up, for Circle and Kit) costs no call.

    async def aclose(self) -> None: ...


def desired_key(desired: object) -> str:
    """A stable key of a desired state (a dataclass or pydantic model of plain values, sets
    and tuples): the same on every replica and restart, whatever the hash seed."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if hasattr(value, "model_dump"):
            return plain(value.model_dump())
        if isinstance(value, (set, frozenset)):
            return sorted((plain(v) for v in value), key=repr)
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
        return value

    encoded = json.dumps(plain(desired), sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:32]
