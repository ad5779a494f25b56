"""deploy/monitoring: the alert rules pass `promtool check rules` and their unit tests
(`promtool test rules`), each alert is documented in the runbook, the generated PrometheusRule
and dashboard are up to date, and every metric they query is one the code defines."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import yaml

from tests.tools import promtool

from .conftest import REPO

MONITORING = REPO / "deploy" / "monitoring"
RUNBOOK = REPO / "docs" / "runbook.md"


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((MONITORING / "alerts.rules.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_check_rules() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(MONITORING / "alerts.rules.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_fire_and_silence_every_alert() -> None:
    tests = sorted((MONITORING / "tests").glob("*.yml"))
    assert tests
    result = subprocess.run(
        [promtool(), "test", "rules", *map(str, tests)],
        capture_output=True,
        text=True,
        check=False,
        cwd=MONITORING,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    covered = set()
    for path in tests:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                covered.add((check["alertname"], bool(check["exp_alerts"])))
    for rule in rules():
        assert (rule["alert"], True) in covered, f"no test fires {rule['alert']}"
        assert (rule["alert"], False) in covered, f"no test keeps {rule['alert']} silent"


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_every_alert_is_actionable() -> None:
    known = anchors(RUNBOOK.read_text())
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names))
    assert len(names) >= 8
    for rule in rules():
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"], rule["alert"]
        assert "$value" in annotations["description"], rule["alert"]
        url = annotations["runbook_url"]
        page, _, anchor = url.partition("#")
        assert page == "docs/runbook.md", url
        assert anchor in known, f"{rule['alert']}: docs/runbook.md has no section #{anchor}"


def test_generated_files_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(MONITORING / "render.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def queried_metrics() -> dict[str, set[str]]:
    """metric name -> where it is queried (alerts, dashboard)."""
    used: dict[str, set[str]] = {}
    exprs = [("alerts", rule["expr"]) for rule in rules()]
    board = json.loads((MONITORING / "dashboard.json").read_text())
    exprs += [("dashboard", t["expr"]) for p in board["panels"] for t in p.get("targets", [])]
    for where, expr in exprs:
        for name in re.findall(r"\b(switchboard_[a-z0-9_]+)", expr):
            used.setdefault(name, set()).add(where)
    return used


def defined_metrics() -> set[str]:
    """Metric names the code declares (string literals passed to prometheus_client)."""
    names = set()
    for folder in ("libs", "services"):
        for path in (REPO / folder).rglob("*.py"):
            names |= set(re.findall(r'"(switchboard_[a-z0-9_]+)"', path.read_text()))
    return names


def test_queried_metrics_are_defined_in_the_code() -> None:
    """A fast, static version of tests/e2e/test_metrics_contract.py (which scrapes)."""
    defined = defined_metrics()
    missing = []
    for name in queried_metrics():
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in defined and base not in defined:
            missing.append(name)
    assert not missing, f"queried but defined nowhere: {missing}"
