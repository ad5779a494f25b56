"""Every log line is one JSON object: ours, and those of the libraries underneath (FastStream,
uvicorn, aiokafka), tracebacks included; emails appear only hashed."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from libs.runtime.logging import configure_logging, email_hash, get_logger


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The test configures logging onto its captured stdout; later tests get theirs back."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    streaming = logging.getLogger("faststream")
    streaming_state = streaming.handlers[:], streaming.propagate
    yield
    structlog.configure(**saved)
    root.handlers[:], root.level = handlers, level
    streaming.handlers[:], streaming.propagate = streaming_state


def test_library_lines_and_tracebacks_are_single_json_objects(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("svc")
    logging.getLogger("faststream.switchboard").warning("Auto create topics is disabled.")
    logging.getLogger("aiokafka").warning("Unable to connect to %s", "127.0.0.1:9092")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("a.library").exception("Exception in ASGI application")
    get_logger().info("webhook_applied", email_hash=email_hash("Jane@Example.com"))
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.strip().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["message"] for r in records] == [
        "Auto create topics is disabled.",
        "Unable to connect to 127.0.0.1:9092",
        "Exception in ASGI application",
        "webhook_applied",
    ]
    assert all(r["service"] == "svc" for r in records)
    assert "RuntimeError: boom" in records[2]["exception"]
    assert "example.com" not in out.lower()
