from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

import libs.contracts
from libs.contracts import (
    INTEGRATIONS,
    CustomerEvent,
    ErrorInfo,
    Lifecycle,
    Source,
    SyncFailure,
    SyncOutcome,
    SyncResult,
)
from libs.contracts.topics import discover_integrations

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def event(**overrides: object) -> CustomerEvent:
    fields: dict[str, object] = {
        "event_id": "evt_1",
        "customer_id": "cust_1",
        "version": 3,
        "email": "jane@example.com",
        "lifecycle": Lifecycle.PAID,
        "source": Source(event_id="evt_1", event_type="invoice.paid", occurred_at=NOW),
    }
    fields.update(overrides)
    return CustomerEvent.model_validate(fields)


def test_customer_event_round_trips_with_schema_on_the_wire() -> None:
    original = event(products=("prod_1",))
    wire = json.loads(original.to_bytes())
    assert wire["schema"] == "customer_event.v1"
    assert CustomerEvent.model_validate_json(original.to_bytes()) == original


def test_unknown_fields_from_a_newer_producer_are_ignored() -> None:
    wire = json.loads(event().to_bytes())
    wire["loyalty_tier"] = "gold"
    assert CustomerEvent.model_validate(wire).customer_id == "cust_1"


def test_another_schema_is_refused() -> None:
    wire = json.loads(event().to_bytes())
    wire["schema"] = "customer_event.v2"
    with pytest.raises(ValidationError):
        CustomerEvent.model_validate(wire)


def test_version_must_be_positive() -> None:
    with pytest.raises(ValidationError):
        event(version=0)


def test_messages_are_frozen() -> None:
    with pytest.raises(ValidationError):
        event().version = 9  # type: ignore[misc]


def test_failure_carries_the_event_to_replay() -> None:
    failure = SyncFailure(
        event_id="evt_1",
        customer_id="cust_1",
        integration="circle",
        action="add_access_group:Members",
        attempts=5,
        error=ErrorInfo(status=503, code="http_503", message="unavailable", retryable=True),
        first_attempt_at=NOW,
        failed_at=NOW,
        event=event(),
    )
    back = SyncFailure.model_validate_json(failure.to_bytes())
    assert back.event == event()
    assert json.loads(failure.to_bytes())["schema"] == "sync_failure.v1"


def test_result_outcomes_are_strings_on_the_wire() -> None:
    result = SyncResult(
        event_id="e",
        customer_id="c",
        version=1,
        integration="crm",
        outcome=SyncOutcome.STALE,
        at=NOW,
    )
    assert json.loads(result.to_bytes())["outcome"] == "stale"


def test_contracts_import_no_io_library() -> None:
    import sys

    for module in list(sys.modules):
        if module.startswith("libs.contracts"):
            source = sys.modules[module].__file__ or ""
            text = Path(source).read_text() if source.endswith(".py") else ""
            for banned in ("faststream", "pymongo", "httpx", "aiokafka"):
                assert f"import {banned}" not in text
                assert f"from {banned}" not in text


def test_every_exported_name_exists() -> None:
    missing = [name for name in libs.contracts.__all__ if not hasattr(libs.contracts, name)]
    assert missing == []


def test_integrations_are_the_sync_folders_so_a_new_one_is_one_folder(tmp_path: Path) -> None:
    for folder in ("circle_sync", "crm_sync", "newsletter_sync"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "integration.py").write_text("")
    (tmp_path / "ingest").mkdir()
    (tmp_path / "half_sync").mkdir()  # no integration.py yet: not an integration
    assert discover_integrations(tmp_path) == ("circle", "crm", "newsletter")
    assert INTEGRATIONS == ("circle", "convertkit", "crm")


def test_a_waiting_result_round_trips_with_its_estimate() -> None:
    result = SyncResult(
        event_id="e",
        customer_id="c",
        version=2,
        integration="circle",
        outcome=SyncOutcome.WAITING,
        at=NOW,
        expected_at=NOW + timedelta(minutes=3),
    )
    wire = json.loads(result.to_bytes())
    assert (wire["outcome"], wire["expected_at"]) == ("waiting", "2026-11-27T00:03:00Z")
    assert SyncResult.model_validate_json(result.to_bytes()) == result


def test_a_result_from_before_expected_at_still_parses() -> None:
    old = {
        "schema": "sync_result.v1",
        "event_id": "e",
        "customer_id": "c",
        "version": 1,
        "integration": "crm",
        "outcome": "synced",
        "at": "2026-11-27T00:00:00Z",
    }
    parsed = SyncResult.model_validate_json(json.dumps(old))
    assert (parsed.outcome, parsed.expected_at) == (SyncOutcome.SYNCED, None)


def test_only_retrying_and_waiting_are_progress_reports() -> None:
    assert {o for o in SyncOutcome if o.is_progress} == {
        SyncOutcome.RETRYING,
        SyncOutcome.WAITING,
    }
