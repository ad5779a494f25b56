from __future__ import annotations

import pytest
from pydantic import ValidationError

from libs.runtime.local_defaults import LOCAL_DEFAULTS
from services.circle_sync.settings import CircleSettings
from services.ingest.settings import IngestSettings


def test_local_mode_fills_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHBOARD_STRIPE_WEBHOOK_SECRETS", raising=False)
    settings = IngestSettings.load(env="local")
    assert [s.get_secret_value() for s in settings.stripe_webhook_secrets] == [
        LOCAL_DEFAULTS["SWITCHBOARD_STRIPE_WEBHOOK_SECRETS"]
    ]


def test_secrets_are_comma_separated_for_rolling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_STRIPE_WEBHOOK_SECRETS", "whsec_a, whsec_b")
    settings = IngestSettings.load(env="local")
    assert [s.get_secret_value() for s in settings.stripe_webhook_secrets] == ["whsec_a", "whsec_b"]


def test_outside_local_mode_a_missing_secret_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LOCAL_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("SWITCHBOARD_MONGODB_URI", "mongodb://mongo")
    with pytest.raises(ValidationError, match="SWITCHBOARD_CIRCLE_TOKEN is not set"):
        CircleSettings.load(env="production")


def test_outside_local_mode_a_local_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("SWITCHBOARD_MONGODB_URI", "mongodb://mongo")
    monkeypatch.setenv("SWITCHBOARD_CIRCLE_TOKEN", LOCAL_DEFAULTS["SWITCHBOARD_CIRCLE_TOKEN"])
    with pytest.raises(ValidationError, match="SWITCHBOARD_CIRCLE_TOKEN still has its local"):
        CircleSettings.load(env="production")


def test_secrets_do_not_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_CIRCLE_TOKEN", "real-token-123")
    assert "real-token-123" not in repr(CircleSettings.load(env="local"))


def test_mode_and_rollout_are_read_per_integration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_CIRCLE_MODE", "shadow")
    monkeypatch.setenv("SWITCHBOARD_CIRCLE_ROLLOUT_PERCENT", "10")
    settings = CircleSettings.load(env="local")
    assert (settings.mode, settings.rollout_percent) == ("shadow", 10)
