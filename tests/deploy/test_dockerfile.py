"""The Dockerfile's essentials, read without a Docker engine (dockerfile-parse), and the files
the image would contain (deploy/security/image_files.py: the COPY lines through .dockerignore)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

from deploy.security.image_files import context_files, ignored, image_files, read_dockerignore
from libs.contracts.topics import INTEGRATIONS

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("ingest", "support", *(f"{name}_sync" for name in INTEGRATIONS))
SECRET_WORDS = re.compile(r"TOKEN|SECRET|KEY|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|cc|make|build-essential|clang|cargo|rustc|python3?-dev|libc6?-dev|"
    r"git|curl|wget|uv|pip install|apt-get install)\b"
)


@pytest.fixture(scope="module")
def parsed() -> DockerfileParser:
    parser = DockerfileParser(path=str(REPO / "Dockerfile"))
    return parser


def stages(parsed: DockerfileParser) -> list[list[dict[str, Any]]]:
    """Instructions grouped by stage (each starts at a FROM)."""
    result: list[list[dict[str, Any]]] = []
    for instruction in parsed.structure:
        if instruction["instruction"] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def test_every_base_image_is_python_slim_pinned_by_digest(parsed: DockerfileParser) -> None:
    froms = [i["value"] for stage in stages(parsed) for i in stage if i["instruction"] == "FROM"]
    assert len(froms) >= 2, "multi-stage: a build stage and a slim runtime stage"
    for value in froms:
        image = value.split()[0]
        assert re.fullmatch(r"python:3\.11-slim[\w.-]*@sha256:[0-9a-f]{64}", image), value


def test_final_stage_runs_as_a_non_root_user(parsed: DockerfileParser) -> None:
    final = stages(parsed)[-1]
    users = [i["value"].strip() for i in final if i["instruction"] == "USER"]
    assert users, "the final stage sets no USER: it would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users[-1]
    # and nothing after the last USER switches back
    last_user = max(i["startline"] for i in final if i["instruction"] == "USER")
    assert not [i for i in final if i["startline"] > last_user and i["instruction"] == "RUN"]


def test_no_secret_is_baked_into_the_image(parsed: DockerfileParser) -> None:
    for stage in stages(parsed):
        for instruction in stage:
            if instruction["instruction"] not in ("ENV", "ARG", "LABEL"):
                continue
            for pair in re.split(r"\s+(?=[A-Za-z_][A-Za-z0-9_.-]*=)", instruction["value"]):
                name, _, value = pair.partition("=")
                if SECRET_WORDS.search(name):
                    assert not value.strip(" \"'\\"), f"line {instruction['startline'] + 1}: {pair}"
    text = (REPO / "Dockerfile").read_text()
    assert not re.search(r"whsec_|sk_(live|test)_|--mount=type=secret", text)


def test_final_stage_has_no_build_tools_or_caches(parsed: DockerfileParser) -> None:
    final = stages(parsed)[-1]
    for instruction in final:
        if instruction["instruction"] == "RUN":
            assert not BUILD_TOOLS.search(instruction["value"]), instruction["value"]
        if instruction["instruction"] in ("COPY", "ADD"):
            value = instruction["value"]
            assert instruction["instruction"] == "COPY", "no ADD (remote fetches, archives)"
            assert "/opt/uv" not in value, value
            assert ".cache" not in value, value
            assert "--from=build" in value, f"the final stage copies only built files: {value}"
    env = " ".join(i["value"] for i in final if i["instruction"] == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env  # a read-only root file system stays clean


def test_the_lock_is_installed_as_is_with_the_pinned_uv(parsed: DockerfileParser) -> None:
    build = stages(parsed)[0]
    runs = [i["value"] for i in build if i["instruction"] == "RUN"]
    syncs = [run for run in runs if "uv sync" in run]
    assert syncs, "the build stage installs with uv sync"
    for run in syncs:
        assert "--frozen" in run, run
        assert "--no-dev" in run, run
    assert not [run for run in runs if re.search(r"uv (lock|add|pip install)", run)]
    copies = " ".join(i["value"] for i in build if i["instruction"] == "COPY")
    assert "uv.lock" in copies
    assert "pyproject.toml" in copies
    pinned = re.search(r"^UV_VERSION := (\S+)$", (REPO / "Makefile").read_text(), re.M)
    assert pinned, "the Makefile pins uv"
    assert f'"uv=={pinned.group(1)}"' in " ".join(runs), "the same uv version as the Makefile"


def test_default_command_is_a_service_and_every_service_has_an_entry_point(
    parsed: DockerfileParser,
) -> None:
    final = stages(parsed)[-1]
    cmd = [i["value"] for i in final if i["instruction"] == "CMD"]
    assert cmd
    assert '"python", "-m", "services.ingest"' in cmd[-1]
    for name in SERVICES:
        assert (REPO / "services" / name / "__main__.py").exists(), name
    assert (REPO / "sandbox" / "__main__.py").exists()


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in lines, "deny by default, then allow what the image needs"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed <= {
        "pyproject.toml",
        "uv.lock",
        "README.md",
        "libs",
        "services",
        "config",
    }
    assert "**/.env" in lines


@pytest.fixture(scope="module")
def in_image() -> dict[str, str]:
    """image path -> repository path, for every file of ours the built image holds."""
    return image_files(REPO)


def test_the_image_holds_the_services_and_their_libraries(in_image: dict[str, str]) -> None:
    sources = set(in_image.values())
    for name in SERVICES:
        assert f"services/{name}/__main__.py" in sources, name
        assert f"/app/services/{name}/__main__.py" in in_image, name
    assert "libs/runtime/settings.py" in sources
    assert "config/mapping.yaml" in sources
    assert all(path.startswith("/app/") for path in in_image)


def test_the_sandbox_tests_and_benchmarks_are_not_in_the_image(in_image: dict[str, str]) -> None:
    """The sandbox answers for every provider with known credentials: dev and tests only."""
    tops = {source.split("/")[0] for source in in_image.values()}
    assert tops <= {"libs", "services", "config"}, tops
    for folder in ("sandbox", "tests", "bench", "deploy", "docs", ".git", ".venv", ".cache"):
        assert folder not in tops, folder
        assert not [p for p in in_image if p.startswith(f"/app/{folder}/")], folder
    assert not [p for p in in_image.values() if re.search(r"(^|/)(\.env|.*\.pem|.*\.key)$", p)]
    assert not [p for p in in_image.values() if "__pycache__" in p or p.endswith(".pyc")]
    # and nothing the services import comes from the sandbox
    for source in in_image.values():
        if source.endswith(".py"):
            text = (REPO / source).read_text()
            assert not re.search(r"^\s*(from|import)\s+sandbox\b", text, re.M), source


def test_nothing_outside_the_image_is_sent_as_the_build_context() -> None:
    tops = {path.split("/")[0] for path in context_files(REPO)}
    assert tops <= {"libs", "services", "config", "pyproject.toml", "uv.lock", "README.md"}, tops


@pytest.mark.parametrize(
    ("path", "left_out"),
    [
        ("libs/runtime/settings.py", False),
        ("libs/runtime/__pycache__/settings.cpython-311.pyc", True),
        ("libs/x.pyc", True),
        ("services/ingest/.env", True),
        ("services/ingest/.env.production", True),
        ("config/mapping.yaml", False),
        ("config/kustomization.yaml", True),
        ("config/tls/server.pem", True),
        ("sandbox/app.py", True),
        ("tests/deploy/test_dockerfile.py", True),
        ("bench/e2e/run.py", True),
        ("pyproject.toml", False),
        ("Dockerfile", True),
        (".git/config", True),
    ],
)
def test_dockerignore_rules_as_docker_applies_them(path: str, left_out: bool) -> None:
    assert ignored(path, read_dockerignore(REPO / ".dockerignore")) is left_out
