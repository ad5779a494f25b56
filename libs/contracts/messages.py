"""Every message Switchboard puts on Kafka. Versioned by topic (`.v1`) and by `schema` in the body.

Models are frozen and serialize by alias, so `schema` appears on the wire while Python code reads
`schema_` (pydantic's BaseModel already has a `schema` attribute).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .lifecycle import Lifecycle


class _Message(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        serialize_by_alias=True,
        validate_by_alias=True,
        validate_by_name=True,
        extra="ignore",  # a newer producer may add fields; v1 readers keep working
    )

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class ProviderIds(_Message):
    """The customer's ids at the payment provider, for support and for joining records."""

    stripe_customer_id: str | None = None
    stripe_subscription_ids: tuple[str, ...] = ()
    stripe_payment_ids: tuple[str, ...] = ()


class Source(_Message):
    """The provider event that caused this message."""

    provider: Literal["stripe", "switchboard"] = "stripe"
    event_id: str
    event_type: str
    occurred_at: datetime


class CustomerEvent(_Message):
    """The customer's whole desired state after an event (not a delta).

    Workers converge their system to this state. A message whose `version` is not newer than the
    one a worker already applied for the customer is stale and is skipped, which makes duplicates,
    replays and out-of-order delivery harmless.
    """

    schema_: Literal["customer_event.v1"] = Field(default="customer_event.v1", alias="schema")
    event_id: str  # unique per published change; equal to the source event id for provider events
    customer_id: str
    version: int = Field(ge=1)
    email: str
    #: addresses the customer had before `email`, most recent first (a few at most). A worker
    #: that finds nobody under `email` but someone under one of these moves that record to
    #: `email`, and never leaves access on an old address. Added in v1 with a default, so older
    #: messages (and older readers) keep working.
    previous_emails: tuple[str, ...] = ()
    name: str | None = None
    lifecycle: Lifecycle
    needs_support: bool = False
    products: tuple[str, ...] = ()  # provider product or price ids the customer holds
    provider_ids: ProviderIds = ProviderIds()
    source: Source
    replay_id: str | None = None  # set when support replays a failed step
    #: set by a reconcile sweep, which corrected the worker's ledger from what the provider
    #: holds: the worker plans against that ledger (no read) and runs the step even at the
    #: version it already applied (the drift came after it). Added in v1 with a default.
    repair: bool = False


class SyncOutcome(StrEnum):
    SYNCED = "synced"
    STALE = "stale"  # a newer version was already applied
    DUPLICATE = "duplicate"  # this event was already processed
    SHADOW = "shadow"  # planned and logged, nothing called
    OFF = "off"  # integration switched off or customer outside the rollout
    FAILED = "failed"  # retries ran out or the error is permanent
    #: not an end: an attempt failed and the worker will try again (`attempts`, `error` say
    #: which and why), so the step shows as pending with a reason instead of silently
    RETRYING = "retrying"
    #: not an end: the worker holds the event behind others under the provider's rate limit
    #: (pacing); `expected_at` says when it expects to run the step, and a later `waiting` may
    #: move that estimate. The final outcome follows. Readers older than this value skip such a
    #: result as unreadable (logged), which loses only the progress report.
    WAITING = "waiting"

    @property
    def is_progress(self) -> bool:
        """A progress report (`retrying`, `waiting`): the step is still pending, an end follows."""
        return self in (SyncOutcome.RETRYING, SyncOutcome.WAITING)


class ErrorInfo(_Message):
    status: int | None = None  # HTTP status, if the provider answered
    code: str  # stable, e.g. "http_503", "timeout", "auth"
    message: str  # never contains a secret
    retryable: bool


class SyncResult(_Message):
    """The outcome of one event at one integration. Every outcome is published."""

    schema_: Literal["sync_result.v1"] = Field(default="sync_result.v1", alias="schema")
    event_id: str
    customer_id: str
    version: int
    integration: str
    outcome: SyncOutcome
    actions: tuple[str, ...] = ()  # what was planned (and, unless shadow, executed)
    attempts: int = 0
    error: ErrorInfo | None = None
    replay_id: str | None = None
    at: datetime
    #: for `waiting`: when the worker expects to run the step (None otherwise). Added in v1 with
    #: a default, so older messages (and older readers) keep working.
    expected_at: datetime | None = None


class SyncFailure(_Message):
    """A step that outlived its retries: everything support needs, and the event to replay."""

    schema_: Literal["sync_failure.v1"] = Field(default="sync_failure.v1", alias="schema")
    event_id: str
    customer_id: str
    integration: str
    action: str  # the action that failed
    attempts: int
    error: ErrorInfo
    first_attempt_at: datetime
    failed_at: datetime
    event: CustomerEvent
    #: `step`: a step outlived its retries; `drift`: a reconcile sweep found drift that its
    #: repair did not fix (an incident even though the version was synced). Added in v1.
    kind: Literal["step", "drift"] = "step"


class IncidentStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class IncidentChanged(_Message):
    """Support opened or resolved an incident; ingest keeps `needs_support` from these."""

    schema_: Literal["incident_changed.v1"] = Field(default="incident_changed.v1", alias="schema")
    incident_id: str
    customer_id: str
    integration: str
    status: IncidentStatus
    at: datetime
