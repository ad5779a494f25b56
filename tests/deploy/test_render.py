"""deploy/k8s/render.py: the worker manifests and the KafkaTopics are generated from the
integration folders, the committed files are up to date, and adding an integration is adding
its folder (`services/<name>_sync/`) and running the generator: no other file changes, and the
overlays then deploy, scale, scrape, alert on and wire the topics of the new worker."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from libs.contracts.topics import INTEGRATIONS, TOPIC_PARTITIONS

from .conftest import OVERLAYS, REPO, build, kubeconform, load_render, named, of_kind

RENDER = Path("deploy/k8s/render.py")
#: what render.py may write; everything else in the tree is written by hand
GENERATED = re.compile(r"deploy/k8s/base/(workers/[^/]+\.yaml|kafka-topics\.yaml)")

NEWSLETTER = {
    "__init__.py": "",
    "integration.py": '"""Newsletter sync: a fourth integration, added as one folder."""\n',
    "settings.py": """\
from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr

from libs.runtime.integration import WorkerSettings


class NewsletterSettings(WorkerSettings):
    integration: ClassVar[str] = "newsletter"
    required_secrets: ClassVar[tuple[str, ...]] = ("newsletter_api_key",)

    service_name: str = "newsletter_sync"
    port: int = 9104
    newsletter_base_url: str = "https://api.newsletter.example"
    newsletter_api_key: SecretStr = SecretStr("")
""",
}


def run_render(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / RENDER), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
    )


def service_down_jobs() -> str:
    groups = yaml.safe_load((REPO / "deploy/monitoring/alerts.rules.yml").read_text())["groups"]
    (rule,) = [r for g in groups for r in g["rules"] if r["alert"] == "SwitchboardServiceDown"]
    found = re.search(r'job=~"([^"]+)"', rule["expr"])
    assert found, rule["expr"]
    return found.group(1)


def assert_worker_is_deployed(docs: list[dict[str, Any]], folder: str, port: int) -> None:
    """Everything one worker needs, found in one overlay's `kustomize build`."""
    app = folder.replace("_", "-")
    integration = folder.removesuffix("_sync")
    deployment = named(docs, "Deployment", app)
    (main,) = deployment["spec"]["template"]["spec"]["containers"]
    assert main["command"] == ["python", "-m", f"services.{folder}"]
    assert main["ports"] == [{"name": "metrics", "containerPort": port}]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = named(docs, "Service", app)
    assert service["spec"]["ports"][0]["port"] == port
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    pdb = named(docs, "PodDisruptionBudget", app)
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    scaled = named(docs, "ScaledObject", app)
    assert scaled["spec"]["scaleTargetRef"]["name"] == app
    assert (
        scaled["spec"]["triggers"][0]["metadata"]["consumerGroup"] == f"switchboard-{integration}"
    )
    monitor = named(docs, "ServiceMonitor", app)
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    # the job Prometheus gives it is the Service's name; ServiceDown must match it
    assert re.fullmatch(service_down_jobs(), app), f"SwitchboardServiceDown misses job {app}"
    # network policy: its pod is selected by the scrape and egress allows, on its `metrics` port
    selecting = [
        p
        for p in of_kind(docs, "NetworkPolicy")
        if p["spec"]["podSelector"].get("matchLabels", {}).items() <= pod_labels.items()
        and p["spec"]["podSelector"]  # default-deny-all selects every pod
    ]
    names = {p["metadata"]["name"] for p in selecting}
    assert {
        "allow-metrics-scrape",
        "allow-egress-dns",
        "allow-egress-kafka",
        "allow-egress-mongodb",
        "allow-egress-https-to-providers",
    } <= names, names
    scrape = next(p for p in selecting if p["metadata"]["name"] == "allow-metrics-scrape")
    assert {"protocol": "TCP", "port": "metrics"} in scrape["spec"]["ingress"][0]["ports"]
    # its failure and replay topics
    topics = {t["spec"]["topicName"]: t for t in of_kind(docs, "KafkaTopic")}
    for topic in (f"{integration}.failed.v1", f"{integration}.replay.v1"):
        assert topics[topic]["spec"]["partitions"] == 3, topic


def test_generated_files_are_up_to_date() -> None:
    result = run_render(REPO, "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_integration_folder_is_rendered_from_its_settings() -> None:
    render = load_render()
    workers = render.discover_workers()
    assert tuple(w.integration for w in workers) == INTEGRATIONS
    for worker in workers:
        assert worker.port == worker.settings.model_fields["port"].default
        text = render.worker_manifest(worker)
        for key in (*worker.secret_keys, *worker.provider_urls):
            assert key in text, f"{worker.folder}: {key}"
    kustomization = yaml.safe_load(
        (REPO / "deploy/k8s/base/workers/kustomization.yaml").read_text()
    )
    assert kustomization["resources"] == [f"{w.folder}.yaml" for w in workers]
    topics = [d for d in yaml.safe_load_all(render.kafka_topics()) if d]
    assert {t["spec"]["topicName"]: t["spec"]["partitions"] for t in topics} == TOPIC_PARTITIONS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployed_worker_is_complete(
    overlay: str, manifests: dict[str, list[dict[str, Any]]]
) -> None:
    for worker in load_render().discover_workers():
        assert_worker_is_deployed(manifests[overlay], worker.folder, worker.port)


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_adding_an_integration_is_one_folder(tmp_path: Path) -> None:
    """Copy the tree, add services/newsletter_sync/ (port 9104), run the generator: only the
    generated files change, and both overlays build, validate and carry the new worker."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".run")
    for folder in ("libs", "services", "deploy", "config"):
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=ignore)
    newsletter = tmp_path / "services" / "newsletter_sync"
    newsletter.mkdir()
    for name, text in NEWSLETTER.items():
        (newsletter / name).write_text(text)
    before = tree_hashes(tmp_path)

    # the committed files no longer match the folders; the check says what to run
    check = run_render(tmp_path, "--check")
    assert check.returncode == 1
    assert "run python deploy/k8s/render.py" in check.stdout
    assert "workers/newsletter_sync.yaml" in check.stdout

    result = run_render(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert run_render(tmp_path, "--check").returncode == 0
    after = tree_hashes(tmp_path)
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    assert changed == {
        "deploy/k8s/base/workers/newsletter_sync.yaml",
        "deploy/k8s/base/workers/kustomization.yaml",
        "deploy/k8s/base/kafka-topics.yaml",
    }
    assert all(GENERATED.fullmatch(p) for p in changed)
    # the monitoring files need nothing either
    monitoring = subprocess.run(
        [sys.executable, str(tmp_path / "deploy/monitoring/render.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert monitoring.returncode == 0, monitoring.stdout

    for overlay in OVERLAYS:
        text = build(overlay, root=tmp_path)
        validated = kubeconform(text)
        assert "Invalid: 0, Errors: 0" in validated.stdout, validated.stdout + validated.stderr
        docs = [doc for doc in yaml.safe_load_all(text) if doc]
        assert_worker_is_deployed(docs, "newsletter_sync", 9104)
        (main,) = named(docs, "Deployment", "newsletter-sync")["spec"]["template"]["spec"][
            "containers"
        ]
        env = {item["name"]: item for item in main["env"]}
        assert env["SWITCHBOARD_PORT"]["value"] == "9104"
        assert env["SWITCHBOARD_NEWSLETTER_BASE_URL"]["value"] == "https://api.newsletter.example"
        secret = env["SWITCHBOARD_NEWSLETTER_API_KEY"]["valueFrom"]["secretKeyRef"]
        assert secret == {
            "name": f"switchboard-{overlay}-credentials",
            "key": "SWITCHBOARD_NEWSLETTER_API_KEY",
        }
        assert env["SWITCHBOARD_NEWSLETTER_MODE"]["value"] == "on"
        topics = of_kind(docs, "KafkaTopic")
        assert len(topics) == len(TOPIC_PARTITIONS) + 2
        for topic in ("newsletter-failed-v1", "newsletter-replay-v1"):
            assert named(docs, "KafkaTopic", topic)["metadata"]["namespace"] == f"kafka-{overlay}"
        # and the three integrations there were are still all there
        for worker in load_render().discover_workers():
            assert_worker_is_deployed(docs, worker.folder, worker.port)
