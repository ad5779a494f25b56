"""docs/asyncapi.json is what FastStream makes of the services' typed subscribers today, and it
names every topic a service reads with the message type it carries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from libs.contracts import TOPIC_PARTITIONS

REPO = Path(__file__).resolve().parents[2]
DOCUMENT = REPO / "docs" / "asyncapi.json"


def test_the_committed_document_is_current() -> None:
    # a clean environment: the document must not depend on who runs it
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    result = subprocess.run(
        [sys.executable, "-m", "libs.runtime.asyncapi", "--check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]


def test_every_topic_is_read_by_someone_with_a_typed_message() -> None:
    document = json.loads(DOCUMENT.read_text())
    read = {channel["address"] for channel in document["channels"].values()}
    assert read == set(TOPIC_PARTITIONS)
    messages = document["components"]["messages"]
    assert all("$ref" in m["payload"] or m["payload"].get("type") for m in messages.values())
    schemas = document["components"]["schemas"]
    assert {"CustomerEvent", "SyncResult", "SyncFailure", "IncidentChanged"} <= set(schemas)
