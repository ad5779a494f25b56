"""Secret scanning (deploy/security, .gitleaks.toml): gitleaks finds a planted secret in the
tree, in an old commit and in the image's files; the allowlists let only the fake fixtures and
the local-only defaults through, where they are; and this repository is clean.

The planted secrets are made at run time, so this file holds none."""

from __future__ import annotations

import random
import shutil
import string
import subprocess
from pathlib import Path

import pytest

from deploy.security import scan
from libs.runtime.local_defaults import LOCAL_DEFAULTS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def _gitleaks() -> None:
    if not scan.GITLEAKS.exists() and not shutil.which("gitleaks"):
        pytest.fail(
            "gitleaks is missing: run `make secrets-check` (deploy/security/tools.sh)",
            pytrace=False,
        )


def realistic(
    prefix: str, length: int, alphabet: str = string.ascii_letters + string.digits
) -> str:
    rng = random.Random(prefix)  # the same value each run
    return prefix + "".join(rng.choice(alphabet) for _ in range(length))


def planted() -> dict[str, str]:
    """rule id -> a line that holds a realistic secret of that kind."""
    base64ish = string.ascii_letters + string.digits + "+/"
    key_body = "\n".join(realistic("", 64, base64ish) for _ in range(8))
    aws = realistic("AKIA", 16, "ABCDEFGHJKLMNPQRSTUVWXYZ234567")
    begin, end = (f"-----{word} RSA {'PRIVATE'} KEY-----" for word in ("BEGIN", "END"))
    return {
        "stripe-access-token": f'STRIPE_KEY = "{realistic("sk_" + "live_", 40)}"',
        "stripe-webhook-signing-secret": f'SECRET = "{realistic("whsec" + "_", 32)}"',
        "aws-access-token": f'AWS_ACCESS_KEY_ID = "{aws}"',
        "private-key": f"{begin}\n{key_body}\n{end}",
    }


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def rules(findings: list[dict[str, object]]) -> set[str]:
    return {str(f["RuleID"]) for f in findings}


def files(findings: list[dict[str, object]]) -> set[str]:
    return {str(f["File"]) for f in findings}


@pytest.mark.parametrize("folder", ["libs/runtime", "services/ingest", "tests/unit", "docs"])
def test_each_planted_secret_is_found_wherever_it_is(tmp_path: Path, folder: str) -> None:
    for rule, line in planted().items():
        write(tmp_path, f"{folder}/{rule}.py", line)
    found = scan.scan_files(
        tmp_path, [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.py")]
    )
    assert rules(found) == set(planted()), found
    assert all(f["Secret"] == "REDACTED" for f in found), "reports never show the secret"


def test_fixtures_pass_only_in_tests_and_only_when_they_read_as_fake(tmp_path: Path) -> None:
    fake = "sk_" + "live_51HxyzSECRET"  # as tests/unit/support/test_tickets.py has it
    write(tmp_path, "tests/unit/test_fake.py", f'CASES = [\n    "{fake}",\n]')
    write(tmp_path, "libs/runtime/fake.py", f'CASES = [\n    "{fake}",\n]')
    found = scan.scan_files(tmp_path, ["tests/unit/test_fake.py", "libs/runtime/fake.py"])
    assert files(found) == {"libs/runtime/fake.py"}, found


def test_the_local_only_defaults_pass(tmp_path: Path) -> None:
    lines = [f'{name} = "{value}"' for name, value in LOCAL_DEFAULTS.items()]
    write(tmp_path, "libs/runtime/defaults.py", "\n".join(lines))
    assert scan.scan_files(tmp_path, ["libs/runtime/defaults.py"]) == []


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.test", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_tree_history_and_image_each_find_what_they_hold(tmp_path: Path) -> None:
    """A repository with the real Dockerfile and .dockerignore: a secret committed once and
    removed since (history only), one in a new file of services/ (tree and image), one in
    sandbox/ and one in bench/ (tree only: neither is in the image)."""
    repo = tmp_path / "repo"
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "uv.lock", "README.md"):
        write(repo, name, (REPO / name).read_text())
    write(repo, "config/mapping.yaml", "groups: {}")
    write(repo, "libs/__init__.py", "")
    lines = planted()
    write(repo, "libs/old.py", lines["stripe-access-token"])
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a key")
    write(repo, "libs/old.py", "KEY = None")
    git(repo, "commit", "-qam", "the key removed")
    write(repo, "services/new.py", lines["aws-access-token"])
    write(repo, "sandbox/new.py", lines["stripe-webhook-signing-secret"])
    write(repo, "bench/new.py", lines["private-key"])

    scans = {s.name: s for s in scan.scan_all(repo)}
    assert files(scans["history"].findings) == {"libs/old.py"}
    assert files(scans["tree"].findings) == {"services/new.py", "sandbox/new.py", "bench/new.py"}
    assert files(scans["image"].findings) == {"services/new.py"}
    assert scans["image"].findings[0]["ImagePaths"] == ["/app/services/new.py"]


def test_this_repository_is_clean() -> None:
    scans = scan.scan_all(REPO)
    found = [f"{s.name}: {scan.describe(f)}" for s in scans for f in s.findings]
    assert not found, (
        "secrets found (a real one: rotate it, then remove it; a fake fixture: make it read as "
        "fake, see deploy/security/README.md):\n" + "\n".join(found)
    )
    assert {s.name for s in scans} == {"tree", "history", "image"}
