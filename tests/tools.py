"""Where the tests find the tools `make test` provisions (deploy/k8s/tools.sh puts them in
.cache/deploy/bin; one on the PATH serves too)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROVISIONED = REPO / ".cache" / "deploy" / "bin"


def promtool() -> str:
    """promtool, or fail: `make test` provisions it (`make deploy-check`), so missing is a bug."""
    provisioned = PROVISIONED / "promtool"
    if provisioned.exists():
        return str(provisioned)
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: `make deploy-check` installs it into .cache/deploy/bin")
    return found
