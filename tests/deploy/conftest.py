"""Checks of the container image recipe, the Kubernetes manifests and the monitoring rules,
all offline. `make deploy-check` provisions the tools (deploy/k8s/tools.sh) into .cache/deploy
and runs these; without the tools they fail, and say how to get them."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / ".cache" / "deploy"
OVERLAYS = ("staging", "production")


def tool(name: str) -> str:
    found = TOOLS / "bin" / name
    if found.exists():
        return str(found)
    on_path = shutil.which(name)
    if on_path:
        return on_path
    pytest.fail(f"{name} is missing: run `make deploy-check` (deploy/k8s/tools.sh)", pytrace=False)


def load_render() -> ModuleType:
    """deploy/k8s/render.py (a script, not a package) as a module."""
    spec = importlib.util.spec_from_file_location("k8s_render", REPO / "deploy/k8s/render.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def build(overlay: str, root: Path = REPO) -> str:
    result = subprocess.run(
        [tool("kustomize"), "build", str(root / "deploy" / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"kustomize build {overlay} failed:\n{result.stderr}"
    return result.stdout


def kubeconform(text: str) -> subprocess.CompletedProcess[str]:
    """Validate `kustomize build` output offline: strict built-in schemas and the CRDs'."""
    schemas = TOOLS / "schemas"
    return subprocess.run(
        [
            tool("kubeconform"),
            "-strict",
            "-summary",
            "-output",
            "text",
            "-skip",
            "KafkaTopic",  # checked with Strimzi's own schema (validate_kafkatopics.mjs)
            "-schema-location",
            f"{schemas}/k8s/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
            "-schema-location",
            f"{schemas}/crds/{{{{ .Group }}}}/"
            "{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json",
            "-",
        ],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="session")
def rendered() -> dict[str, str]:
    """overlay -> the YAML `kustomize build` prints."""
    return {overlay: build(overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="session")
def manifests(rendered: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """overlay -> its resources."""
    return {
        overlay: [doc for doc in yaml.safe_load_all(text) if doc]
        for overlay, text in rendered.items()
    }


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for doc in of_kind(docs, kind):
        if doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind} {name}")
