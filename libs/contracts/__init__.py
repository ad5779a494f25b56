"""Switchboard's contracts: message shapes, topic names and the lifecycle state machine.

Pure: imports pydantic and the standard library only, never a broker, database or HTTP client.
"""

from .lifecycle import (
    PROVIDER_SIGNALS,
    CustomerState,
    Lifecycle,
    Signal,
    Transition,
    decides,
    next_lifecycle,
    transition,
)
from .messages import (
    CustomerEvent,
    ErrorInfo,
    IncidentChanged,
    IncidentStatus,
    ProviderIds,
    Source,
    SyncFailure,
    SyncOutcome,
    SyncResult,
)
from .topics import (
    CUSTOMER_EVENTS,
    INTEGRATIONS,
    SUPPORT_INCIDENTS,
    SYNC_RESULTS,
    TOPIC_PARTITIONS,
    failure_topic,
    replay_topic,
)

__all__ = [
    "CUSTOMER_EVENTS",
    "INTEGRATIONS",
    "PROVIDER_SIGNALS",
    "SUPPORT_INCIDENTS",
    "SYNC_RESULTS",
    "TOPIC_PARTITIONS",
    "CustomerEvent",
    "CustomerState",
    "ErrorInfo",
    "IncidentChanged",
    "IncidentStatus",
    "Lifecycle",
    "ProviderIds",
    "Signal",
    "Source",
    "SyncFailure",
    "SyncOutcome",
    "SyncResult",
    "Transition",
    "decides",
    "failure_topic",
    "next_lifecycle",
    "replay_topic",
    "transition",
]
