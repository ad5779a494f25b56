"""`python -m deploy.security.scan`: gitleaks over the working tree, the git history and the
image's files, with the repository's `.gitleaks.toml`. Exit 1 on any finding (secrets redacted).

- tree: what `git ls-files --cached --others --exclude-standard` lists (tracked, and new files
  not ignored), copied to a temporary folder so `.venv`, `.cache` and `.run` are not read;
- history: every commit of every ref (`gitleaks git`: `git log -p --all`);
- image: the files of ours the built image contains (image_files.py: the Dockerfile's COPY
  lines through `.dockerignore`), laid out at their repository paths.

`make secrets-check` provisions gitleaks first (deploy/security/tools.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.security.image_files import image_files

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / ".gitleaks.toml"
GITLEAKS = REPO / ".cache" / "security" / "bin" / "gitleaks"


@dataclass(frozen=True)
class Scan:
    name: str  # tree | history | image
    scanned: str  # what was read, e.g. "478 files"
    findings: list[dict[str, Any]]
    seconds: float


def gitleaks() -> str:
    if GITLEAKS.exists():
        return str(GITLEAKS)
    found = shutil.which("gitleaks")
    if found:
        return found
    raise SystemExit("gitleaks is missing: run `make secrets-check` (deploy/security/tools.sh)")


def _run(args: list[str], cwd: Path, config: Path) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="gitleaks-report-") as tmp:
        report = Path(tmp) / "report.json"
        command = [
            gitleaks(),
            *args,
            "--config",
            str(config),
            "--report-format",
            "json",
            "--report-path",
            str(report),
            "--redact",
            "--no-banner",
            "--log-level",
            "error",
            "--exit-code",
            "0",
            # One place decides what is allowed: the config, not `gitleaks:allow` comments.
            "--ignore-gitleaks-allow",
            "--gitleaks-ignore-path",
            str(REPO),
        ]
        result = subprocess.run(  # noqa: S603 (our own tool, fixed arguments)
            command, cwd=cwd, capture_output=True, text=True, check=False
        )
        if result.returncode != 0 or not report.exists():
            raise RuntimeError(f"gitleaks failed ({result.returncode}): {result.stderr.strip()}")
        findings: list[dict[str, Any]] = json.loads(report.read_text() or "[]")
        return findings


def scan_files(root: Path, files: Iterable[str], config: Path = CONFIG) -> list[dict[str, Any]]:
    """gitleaks over exactly `files` (paths relative to `root`), reported by those paths."""
    with tempfile.TemporaryDirectory(prefix="gitleaks-files-") as tmp:
        for name in files:
            source = root / name
            if source.is_file() and not source.is_symlink():
                target = Path(tmp) / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
        return _run(["dir", "."], Path(tmp), config)


def scan_history(repo: Path, config: Path = CONFIG) -> list[dict[str, Any]]:
    return _run(["git", str(repo)], repo, config)


def tree_files(repo: Path) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({name for name in listed.split("\0") if name})


def commits(repo: Path) -> int:
    out = subprocess.run(
        ["git", "rev-list", "--all", "--count"],  # noqa: S607
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.strip() or 0)


def scan_all(repo: Path = REPO, config: Path = CONFIG) -> list[Scan]:
    scans = []
    started = time.monotonic()
    tree = tree_files(repo)
    found = scan_files(repo, tree, config)
    scans.append(Scan("tree", f"{len(tree)} files", found, time.monotonic() - started))

    started = time.monotonic()
    found = scan_history(repo, config)
    scans.append(Scan("history", f"{commits(repo)} commits", found, time.monotonic() - started))

    started = time.monotonic()
    image = image_files(repo)
    by_source: dict[str, list[str]] = {}
    for image_path, source in image.items():
        by_source.setdefault(source, []).append(image_path)
    found = scan_files(repo, by_source, config)
    for finding in found:
        finding["ImagePaths"] = sorted(by_source.get(finding["File"], []))
    scans.append(Scan("image", f"{len(image)} files", found, time.monotonic() - started))
    return scans


def describe(finding: dict[str, Any]) -> str:
    where = f"{finding['File']}:{finding['StartLine']}"
    if finding.get("Commit"):
        where += f" (commit {finding['Commit'][:12]})"
    if finding.get("ImagePaths"):
        where += f" (in the image as {', '.join(finding['ImagePaths'])})"
    return f"{finding['RuleID']} in {where}: {finding.get('Secret', '')}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="the findings as JSON")
    args = parser.parse_args(argv)
    scans = scan_all()
    if args.json:
        print(json.dumps([scan.__dict__ for scan in scans], indent=2))
    total = 0
    for scan in scans:
        total += len(scan.findings)
        verdict = "clean" if not scan.findings else f"{len(scan.findings)} FOUND"
        line = f"secrets-check: {scan.name}: {scan.scanned} in {scan.seconds:.1f} s: {verdict}"
        print(line, file=sys.stderr if args.json else sys.stdout)
        for finding in scan.findings:
            print(f"  {describe(finding)}", file=sys.stderr if args.json else sys.stdout)
    if total:
        print(
            "secrets-check: a real secret: rotate it now, then remove it (from history too). "
            "A fake fixture or local-only value: see deploy/security/README.md.",
            file=sys.stderr,
        )
    return 1 if total else 0


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
