"""The one clock every service reads (UTC, timezone-aware); tests that need another time pass
their own."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
