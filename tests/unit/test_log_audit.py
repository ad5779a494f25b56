"""bench/log_audit.py: each kind of finding is caught (and redacted), a clean log passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.log_audit import audit_logs, log_files, main

CLEAN = [
    {"level": "info", "message": "webhook_applied", "service": "ingest", "email_hash": "b39601"},
    {"level": "info", "message": "kafka_connected", "service": "support"},
]


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def jsonl(*objects: object) -> list[str]:
    return [json.dumps(o) for o in objects]


def test_a_clean_log_passes(tmp_path: Path) -> None:
    log = write(tmp_path / "ingest.log", *jsonl(*CLEAN), "", "   ")
    result = audit_logs([log], [])
    assert result["ok"] is True
    assert result["lines"] == 2  # blank lines are not lines
    assert result["counts"] == {"not_json": 0, "secret": 0, "email": 0}
    assert all(found == [] for found in result["findings"].values())


@pytest.mark.parametrize(
    "line",
    [
        "Started server process [8705]",  # uvicorn's own format
        "2026-12-01 21:49:28,080 WARNING  - Auto create topics is disabled.",
        '{"message": "a"}{"message": "b"}',  # two objects on one line
        '["not", "an", "object"]',
        '{"message": "cut off',
    ],
)
def test_a_line_that_is_not_one_json_object_is_reported_with_file_and_line(
    tmp_path: Path, line: str
) -> None:
    log = write(tmp_path / "support.log", *jsonl(CLEAN[0]), line)
    result = audit_logs([log], [])
    assert result["ok"] is False
    assert result["counts"]["not_json"] == 1
    [finding] = result["findings"]["not_json"]
    assert (finding["file"], finding["line"]) == (str(log), 2)
    assert finding["content"] == line


def test_third_party_logs_need_not_be_json_but_are_searched_for_leaks(tmp_path: Path) -> None:
    kafka = write(tmp_path / "kafka.log", "[2026-12-01 21:48:07,649] INFO Registered MBean")
    ferret = write(tmp_path / "ferretdb.log.1", "WARN\tdocument: buyer@example.com")
    assert audit_logs([kafka], [])["ok"] is True
    result = audit_logs([ferret], [])
    assert result["counts"] == {"not_json": 0, "secret": 0, "email": 1}
    assert [f["json_required"] for f in result["files"]] == [False]


def test_a_local_default_secret_is_found_and_redacted(tmp_path: Path) -> None:
    line = json.dumps({"message": "auth", "header": "Bearer local-admin-token"})
    log = write(tmp_path / "support.log", *jsonl(*CLEAN), line)
    result = audit_logs([log], [])
    assert result["counts"] == {"not_json": 0, "secret": 1, "email": 0}
    [finding] = result["findings"]["secret"]
    assert finding["line"] == 3
    assert finding["detail"] == "SWITCHBOARD_ADMIN_TOKENS"
    assert "local-admin-token" not in finding["content"]
    assert "<secret:SWITCHBOARD_ADMIN_TOKENS>" in finding["content"]


def test_a_passed_secret_is_found_too_and_never_shown(tmp_path: Path) -> None:
    log = write(tmp_path / "crm_sync.log", "not json with pat-na1-0123456789abcdef inside")
    result = audit_logs([log], ["pat-na1-0123456789abcdef"])
    assert result["counts"] == {"not_json": 1, "secret": 1, "email": 0}
    for found in result["findings"].values():
        assert all("pat-na1-0123456789abcdef" not in f["content"] for f in found)


@pytest.mark.parametrize(
    "line",
    [
        json.dumps({"message": "customer_created", "email": "Jane.Doe+tag@example.co.uk"}),
        json.dumps({"message": "GET /v1/customers/status?email=jane%40example.com 200"}),
    ],
    ids=["plain", "percent-encoded"],
)
def test_a_raw_email_is_found_and_redacted(tmp_path: Path, line: str) -> None:
    log = write(tmp_path / "ingest.log", line)
    result = audit_logs([log], [])
    assert result["counts"] == {"not_json": 0, "secret": 0, "email": 1}
    [finding] = result["findings"]["email"]
    assert "example.co" not in finding["content"]
    assert "<email:" in finding["content"]


def test_hashed_emails_and_ids_are_not_emails(tmp_path: Path) -> None:
    line = json.dumps({"email_hash": "07d88248931621bf", "at": "user@localhost", "v": "a@1.2"})
    assert audit_logs([write(tmp_path / "ingest.log", line)], [])["ok"] is True


def test_repeats_of_one_message_are_counted_and_shown_once(tmp_path: Path) -> None:
    lines = [f"Started server process [{pid}]" for pid in (101, 202, 303)]
    result = audit_logs([write(tmp_path / "circle_sync.log", *lines)], [], show=5)
    assert result["counts"]["not_json"] == 3
    [finding] = result["findings"]["not_json"]
    assert (finding["line"], finding["repeats"]) == (1, 3)


def test_the_command_exits_1_on_findings_and_0_when_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean, dirty = tmp_path / "clean", tmp_path / "dirty"
    clean.mkdir()
    dirty.mkdir()
    write(clean / "ingest.log", *jsonl(*CLEAN))
    write(dirty / "ingest.log", *jsonl(*CLEAN), json.dumps({"token": "s3cr3t-value"}))
    assert log_files([dirty]) == [dirty / "ingest.log"]
    assert main([str(clean)]) == 0
    assert main([str(dirty), "--secret", "s3cr3t-value"]) == 1
    out = capsys.readouterr().out
    assert "dirty/ingest.log:3" in out
    assert "s3cr3t-value" not in out
