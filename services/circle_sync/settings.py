from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr

from libs.runtime.integration import WorkerSettings


class CircleSettings(WorkerSettings):
    integration: ClassVar[str] = "circle"
    required_secrets: ClassVar[tuple[str, ...]] = ("circle_token",)

    service_name: str = "circle_sync"
    port: int = 9101
    circle_base_url: str = "https://app.circle.so"
    circle_token: SecretStr = SecretStr("")
    #: add members without Circle's invitation email (e.g. when the shop sends its own welcome)
    circle_skip_invitation: bool = False
    # Circle sends no Retry-After; its burst window is 5 minutes.
    rate_limit_window_seconds: float = 60.0
    # Circle allows 2,000 requests per 5 minutes per IP; the Business plan's 5,000 Admin API
    # requests a month is set per account (SWITCHBOARD_CIRCLE_MONTHLY_QUOTA), none by default.
    rate_limit: int = 2000
    rate_window_seconds: float = 300.0
