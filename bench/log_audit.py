"""Audit log files against the logging contract (docs: DESIGN.md, "Observability" and "HTTP
surfaces"): every line a Switchboard service writes is one JSON object, no secret appears, and
no raw email address appears (services log `email_hash` instead).

    .venv/bin/python bench/log_audit.py LOG_DIR|FILE ... [--secret S ...] [--json] [--show 5]

Which files are Switchboard's: under a run directory (`.run/<name>/logs/`) each process writes
`<name>.log`. `kafka*.log` and `ferretdb*.log` are the third-party servers' own formats, and
`sandbox*.log` is the local provider stand-in (dev and tests only, never deployed); those are
not held to the one-JSON-object rule, but they are still searched for secrets and emails, since
a secret or an address in any file on disk is a leak. Every other file is taken as a service's
and must be JSON throughout: a new service is audited without changing this list.

The secrets searched for are every local default secret (`libs/runtime/local_defaults.py`,
comma-separated values split) plus the ones passed. Emails are matched in the line as written
and percent-decoded (an address in a logged URL comes as `jane%40example.com`). Findings show the
line with every secret and address redacted. Exit 1 when anything is found, 0 when clean.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from libs.runtime.local_defaults import LOCAL_DEFAULTS, SECRET_SETTINGS  # noqa: E402

KINDS = ("not_json", "secret", "email")
#: files that are not Switchboard's own (see the module docstring)
NOT_SWITCHBOARD = ("kafka", "ferretdb", "sandbox")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}")
#: findings kept per kind, one per distinct message shape (the counts are always complete)
SHOW = 5
#: what makes two findings the same shape: numbers and ids differ between repeats
VARIABLE = re.compile(r"[0-9a-f]{8,}|\d+")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
#: characters of a finding's line that are kept
CLIP = 300


@dataclass(frozen=True)
class Secret:
    name: str
    value: str


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    kind: str
    detail: str
    content: str
    #: lines of this kind with the same shape (the first is shown)
    repeats: int = 1


def default_secrets() -> list[Secret]:
    """Every local default secret, one per comma-separated value."""
    return [
        Secret(setting, value.strip())
        for setting in SECRET_SETTINGS
        for value in LOCAL_DEFAULTS[setting].split(",")
        if value.strip()
    ]


def is_switchboard_log(path: Path) -> bool:
    return path.name.split(".")[0].split("-")[0] not in NOT_SWITCHBOARD


def redact(line: str, secrets: Iterable[Secret]) -> str:
    for secret in sorted(secrets, key=lambda s: len(s.value), reverse=True):
        line = line.replace(secret.value, f"<secret:{secret.name}>")

    def hide(match: re.Match[str]) -> str:
        digest = hashlib.sha256(match.group().lower().encode()).hexdigest()[:8]
        return f"<email:{digest}>"

    line = EMAIL.sub(hide, line)
    # an address written percent-encoded is matched and redacted in its decoded form
    if EMAIL.search(unquote(line)):
        line = EMAIL.sub(hide, unquote(line))
    line = CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", line)  # ANSI colours, say
    return line if len(line) <= CLIP else f"{line[:CLIP]}... ({len(line)} chars)"


def json_problem(line: str) -> str | None:
    """Why this line is not exactly one JSON object, or None."""
    try:
        value = json.loads(line)
    except ValueError as exc:
        return f"not JSON: {exc}"
    if not isinstance(value, dict):
        return f"JSON {type(value).__name__}, not an object"
    return None


def line_findings(line: str, secrets: list[Secret], check_json: bool) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if check_json:
        problem = json_problem(line)
        if problem:
            found.append(("not_json", problem))
    leaked = sorted({s.name for s in secrets if s.value in line})
    if leaked:
        found.append(("secret", ", ".join(leaked)))
    emails = EMAIL.findall(line) or EMAIL.findall(unquote(line))
    if emails:
        found.append(("email", f"{len(emails)} address(es)"))
    return found


def audit_logs(
    paths: list[Path],
    secrets: list[str],
    *,
    include_defaults: bool = True,
    json_required: Callable[[Path], bool] = is_switchboard_log,
    show: int = SHOW,
) -> dict[str, Any]:
    """Audit `paths`. The result has `counts` (lines per kind of finding), `findings` (per
    kind, the first line of each of the first `show` distinct shapes, with how many lines share
    it), per-file figures under `files`, and `ok` (nothing found)."""
    known = default_secrets() if include_defaults else []
    known += [Secret(f"--secret #{i + 1}", s) for i, s in enumerate(secrets) if s]
    counts = dict.fromkeys(KINDS, 0)
    shapes: dict[str, dict[str, Finding]] = {kind: {} for kind in KINDS}
    files: list[dict[str, Any]] = []
    for path in paths:
        check_json = json_required(path)
        per_file = dict.fromkeys(KINDS, 0)
        lines = 0
        with path.open(encoding="utf-8", errors="replace") as handle:
            for number, raw in enumerate(handle, start=1):
                line = raw.rstrip("\r\n")
                if not line.strip():
                    continue
                lines += 1
                for kind, detail in line_findings(line, known, check_json):
                    counts[kind] += 1
                    per_file[kind] += 1
                    content = redact(line, known)
                    shape = VARIABLE.sub("#", content)
                    seen = shapes[kind].get(shape)
                    if seen is not None:
                        shapes[kind][shape] = replace(seen, repeats=seen.repeats + 1)
                    elif len(shapes[kind]) < show:
                        shapes[kind][shape] = Finding(str(path), number, kind, detail, content)
        files.append(
            {"file": str(path), "lines": lines, "json_required": check_json, "counts": per_file}
        )
    return {
        "ok": not any(counts.values()),
        "lines": sum(f["lines"] for f in files),
        "counts": counts,
        "findings": {kind: [asdict(f) for f in shapes[kind].values()] for kind in KINDS},
        "files": files,
    }


def log_files(targets: list[Path]) -> list[Path]:
    """The `*.log` files (rotated ones too) in each directory, and each file given."""
    found: list[Path] = []
    for target in targets:
        if target.is_dir():
            found += sorted(p for p in target.iterdir() if p.is_file() and ".log" in p.name)
        elif target.is_file():
            found.append(target)
        else:
            raise SystemExit(f"error: no such file or directory: {target}")
    return found


def render(result: dict[str, Any]) -> str:
    out = [f"{len(result['files'])} files, {result['lines']} non-empty lines"]
    for f in result["files"]:
        rule = "JSON required" if f["json_required"] else "not Switchboard's: secrets/emails only"
        counts = ", ".join(f"{k} {v}" for k, v in f["counts"].items())
        out.append(f"  {f['file']}: {f['lines']} lines ({rule}): {counts}")
    for kind in KINDS:
        out.append(f"{kind}: {result['counts'][kind]} line(s)")
        for finding in result["findings"][kind]:
            more = f" (and {finding['repeats'] - 1} more like it)" if finding["repeats"] > 1 else ""
            out.append(f"  {finding['file']}:{finding['line']}: {finding['detail']}{more}")
            out.append(f"    {finding['content']}")
    out.append("clean" if result["ok"] else "FINDINGS")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="+", type=Path, help="a log directory or log files")
    parser.add_argument("--secret", action="append", default=[], help="another secret value")
    parser.add_argument("--show", type=int, default=SHOW, help="findings shown per kind")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = audit_logs(log_files(args.targets), args.secret, show=args.show)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
