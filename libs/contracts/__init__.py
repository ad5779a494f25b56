"""Switchboard's contracts: message shapes, topic names and the lifecycle state machine.

Pure: imports pydantic and the standard library only, never a broker, database or HTTP client.
"""

from .lifecycle import (
    HISTORY_LIMIT,
    PROVIDER_SIGNALS,
    CustomerState,
    Lifecycle,
    Signal,
    SignalRecord,
    Transition,
    fold,
    has_access,
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
    "HISTORY_LIMIT",
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
    "SignalRecord",
    "Source",
    "SyncFailure",
    "SyncOutcome",
    "SyncResult",
    "Transition",
    "failure_topic",
    "fold",
    "has_access",
    "next_lifecycle",
    "replay_topic",
    "transition",
]
