"""Switchboard's error tree. Provider clients translate httpx errors into it in one place.

SwitchboardError
├── ProviderError                  a provider call failed
│   ├── TransientProviderError     timeout, connection error, 408/425/429/5xx: retry
│   └── PermanentProviderError     400/404/422 and other 4xx: do not retry
│       └── ProviderAuthError      401/403: credential or scope problem, counted apart
└── StoreError                     our own database failed: hand the message back
"""

from __future__ import annotations


class SwitchboardError(Exception):
    pass


class ProviderError(SwitchboardError):
    retryable = False

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status: int | None = None,
        endpoint: str = "",
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(f"{provider} {endpoint}: {message}".strip())
        self.provider = provider
        self.status = status
        self.endpoint = endpoint
        self.retry_after = retry_after
        self.message = message
        self.code = code or (f"http_{status}" if status else "error")
        self.action = ""  # set by the integration: which planned action failed


class TransientProviderError(ProviderError):
    retryable = True


class PermanentProviderError(ProviderError):
    pass


class ProviderAuthError(PermanentProviderError):
    pass


class StoreError(SwitchboardError):
    pass


RETRYABLE_STATUSES = frozenset({408, 425, 429}) | frozenset(range(500, 600))


def error_for_status(
    provider: str,
    status: int,
    message: str,
    *,
    endpoint: str = "",
    retry_after: float | None = None,
) -> ProviderError:
    """The one mapping from an HTTP status to our error tree."""
    kind: type[ProviderError] = PermanentProviderError
    if status in (401, 403):
        kind = ProviderAuthError
    elif status in RETRYABLE_STATUSES:
        kind = TransientProviderError
    code = "auth" if kind is ProviderAuthError else None
    return kind(
        provider, message, status=status, endpoint=endpoint, retry_after=retry_after, code=code
    )
