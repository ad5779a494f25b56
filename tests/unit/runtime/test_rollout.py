"""Mode and rollout: a stable hash of the customer id picks who is live, per integration."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from libs.runtime.integration import Mode, in_rollout
from services.circle_sync.settings import CircleSettings

REPO = Path(__file__).resolve().parents[3]
CUSTOMERS = [f"cust_{uuid.UUID(int=n * 7919 + 13).hex}" for n in range(1000)]


def live(percent: float) -> set[str]:
    return {c for c in CUSTOMERS if in_rollout(c, percent)}


def test_a_10_percent_rollout_puts_about_10_percent_live() -> None:
    assert 70 <= len(live(10)) <= 130


def test_the_same_customers_are_live_every_time() -> None:
    # "Every time" includes other processes and replicas: run the choice in two fresh
    # interpreters with different hash seeds (a built-in `hash()` would differ between them).
    script = (
        "import sys; sys.path.insert(0, '.');"
        "from tests.unit.runtime.test_rollout import live;"
        "print(','.join(sorted(live(10))))"
    )
    chosen = set()
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        chosen.add(out)
    assert chosen == {",".join(sorted(live(10)))}


def test_raising_the_rollout_only_adds_customers() -> None:
    assert live(10) <= live(25) <= live(50) <= live(100)
    assert 220 <= len(live(25)) <= 280


@pytest.mark.parametrize(("percent", "expected"), [(0, 0), (100, 1000)])
def test_the_ends_are_none_and_everyone(percent: float, expected: int) -> None:
    assert len(live(percent)) == expected


def test_mode_rollout_and_retry_settings_are_read_per_integration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SWITCHBOARD_CIRCLE_MODE", "shadow")
    monkeypatch.setenv("SWITCHBOARD_CIRCLE_ROLLOUT_PERCENT", "10")
    monkeypatch.setenv("SWITCHBOARD_CIRCLE_BACKOFF_BASE_SECONDS", "0.05")
    monkeypatch.setenv("SWITCHBOARD_CIRCLE_RATE_LIMIT_WINDOW_SECONDS", "2")
    monkeypatch.setenv("SWITCHBOARD_RATE_LIMIT_BUDGET_SECONDS", "30")  # every worker
    monkeypatch.setenv("SWITCHBOARD_RETRIES", "5")
    monkeypatch.setenv("SWITCHBOARD_CIRCLE_RETRIES", "3")  # the integration's own wins
    settings = CircleSettings.load(env="local")
    assert settings.mode is Mode.SHADOW
    assert settings.rollout_percent == 10
    policy = settings.retry_policy
    assert (policy.retries, policy.base_seconds) == (3, 0.05)
    assert (policy.rate_limit_window_seconds, policy.rate_limit_budget_seconds) == (2, 30)


def test_fewer_than_three_retries_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_CIRCLE_RETRIES", "2")
    with pytest.raises(ValueError, match="retries"):
        CircleSettings.load(env="local")


def test_a_rate_limit_budget_past_the_poll_interval_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SWITCHBOARD_CIRCLE_RATE_LIMIT_BUDGET_SECONDS", "900")
    with pytest.raises(ValueError, match="consumer_max_poll_interval_seconds"):
        CircleSettings.load(env="local")
