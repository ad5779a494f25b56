"""Write the generated Kubernetes manifests from the integrations, or check they are up to date.

    python deploy/k8s/render.py          # rewrite base/workers/ and base/kafka-topics.yaml
    python deploy/k8s/render.py --check  # exit 1 if any differs (tests/deploy runs it)

Every `services/<name>_sync/` folder is an integration (libs/contracts/topics.py,
`discover_integrations`), so adding one is adding its folder and running this:

- `base/workers/<name>_sync.yaml`: its Deployment, Service, PodDisruptionBudget, ScaledObject and
  ServiceMonitor, from `templates/worker.yaml`. What differs per integration comes from the
  folder's own settings class (the WorkerSettings subclass in `settings.py`): the port, the
  provider base URLs (`*_base_url` fields) and the Secret keys (`required_secrets`).
- `base/workers/kustomization.yaml`: the list of those files (the base includes `workers`).
- `base/kafka-topics.yaml`: a Strimzi KafkaTopic per topic of `TOPIC_PARTITIONS`, which holds
  each integration's failure and replay topics.

The generated files are committed, so `kubectl apply -k` needs nothing run first. The network
policies name no worker (monitoring may reach the port named `metrics`, which every container
has: a worker's one port, where it serves health and metrics; ingest's and support's second) and
the ServiceDown alert matches every `*-sync` job, so neither changes with an integration.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:  # run as a script: import this tree's libs and services
    sys.path.insert(0, str(ROOT))

from libs.contracts.topics import (  # noqa: E402
    CUSTOMER_EVENTS,
    SYNC_RESULTS,
    TOPIC_PARTITIONS,
    discover_integrations,
)
from libs.runtime.integration import WorkerSettings  # noqa: E402
from libs.runtime.settings import ENV_PREFIX, ServiceSettings  # noqa: E402
from services.ingest.settings import IngestSettings  # noqa: E402
from services.support.settings import SupportSettings  # noqa: E402

BASE = HERE / "base"
WORKERS = BASE / "workers"
KAFKA_TOPICS = BASE / "kafka-topics.yaml"
TEMPLATE = HERE / "templates" / "worker.yaml"
SERVICES = ROOT / "services"

#: consumers per worker pod (SWITCHBOARD_<INTEGRATION>_CONCURRENCY)
CONCURRENCY = 2
DAY_MS = 24 * 3600 * 1000
#: topic -> retention; every other topic (incidents, failures, replays) keeps 30 days
RETENTION_MS = {CUSTOMER_EVENTS: 7 * DAY_MS, SYNC_RESULTS: 7 * DAY_MS}
FAILURE_RETENTION_MS = 30 * DAY_MS


@dataclass(frozen=True)
class Worker:
    """One integration's deployment, read from its folder."""

    integration: str  # "circle"
    folder: str  # "circle_sync"
    title: str  # "Circle sync", from the integration module's docstring
    settings: type[WorkerSettings]

    @property
    def app(self) -> str:
        """The Kubernetes name (Deployment, Service, ... and so the Prometheus job)."""
        return self.folder.replace("_", "-")

    @property
    def port(self) -> int:
        return int(self.settings.model_fields["port"].default)

    @property
    def env_prefix(self) -> str:
        return f"{ENV_PREFIX}{self.integration.upper()}"

    @property
    def secret_keys(self) -> list[str]:
        return [f"{ENV_PREFIX}{name.upper()}" for name in self.settings.required_secrets]

    @property
    def provider_urls(self) -> dict[str, str]:
        return {
            f"{ENV_PREFIX}{name.upper()}": str(field.default)
            for name, field in self.settings.model_fields.items()
            if name.endswith("_base_url")
        }


def settings_class(folder: str, integration: str) -> type[WorkerSettings]:
    module = importlib.import_module(f"services.{folder}.settings")
    found = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, WorkerSettings)
        and cls.__module__ == module.__name__
        and cls.integration == integration
    ]
    if len(found) != 1:
        raise SystemExit(
            f"services/{folder}/settings.py: expected one WorkerSettings subclass with "
            f'integration = "{integration}", found {len(found)}'
        )
    return found[0]


def title_of(folder: Path) -> str:
    """ "Circle sync" from the docstring "Circle sync: search by email, ..."."""
    doc = ast.get_docstring(ast.parse((folder / "integration.py").read_text())) or ""
    head, colon, _ = doc.partition(":")
    return head.strip() if colon and "\n" not in head else folder.name


def discover_workers(services: Path = SERVICES) -> list[Worker]:
    workers = []
    for name in discover_integrations(services):
        folder = f"{name}_sync"
        workers.append(
            Worker(name, folder, title_of(services / folder), settings_class(folder, name))
        )
    ports = [w.port for w in workers]
    taken = {
        cls.model_fields[field].default
        for cls in (IngestSettings, SupportSettings)
        for field in ("port", "metrics_port")
    }
    clash = {p for p in ports if ports.count(p) > 1 or p in taken}
    if clash:
        raise SystemExit(f"integrations share a port: {sorted(clash)} (set `port` in settings.py)")
    return workers


def env_items(items: dict[str, str], secret: bool) -> str:
    lines = []
    for key, value in items.items():
        lines.append(f"            - name: {key}\n")
        if secret:
            lines.append(
                "              valueFrom:\n"
                "                secretKeyRef:\n"
                "                  name: switchboard-credentials\n"
                f"                  key: {key}\n"
            )
        else:
            lines.append(f"              value: {yaml.safe_dump(value).splitlines()[0]}\n")
    return "".join(lines)


def worker_manifest(worker: Worker, template: str | None = None) -> str:
    partitions = TOPIC_PARTITIONS[CUSTOMER_EVENTS]
    prefix = ServiceSettings.model_fields["kafka_group_prefix"].default
    return Template(template or TEMPLATE.read_text()).substitute(
        folder=worker.folder,
        provider=worker.title,
        settings_class=worker.settings.__name__,
        app=worker.app,
        port=worker.port,
        prefix=worker.env_prefix,
        concurrency=CONCURRENCY,
        max_replicas=partitions // CONCURRENCY,
        partitions=partitions,
        topic=CUSTOMER_EVENTS,
        group=f"{prefix}-{worker.integration}",  # libs/runtime/worker_app.py, group_id
        provider_urls=env_items(worker.provider_urls, secret=False),
        secrets=env_items({key: key for key in worker.secret_keys}, secret=True),
    )


def workers_kustomization(workers: list[Worker]) -> str:
    header = (
        "# Generated by deploy/k8s/render.py: one file per services/<name>_sync/ folder. "
        "Do not edit.\n"
    )
    resource = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [f"{w.folder}.yaml" for w in workers],
    }
    return header + yaml.safe_dump(resource, sort_keys=False)


def kafka_topics(partitions: dict[str, int] | None = None) -> str:
    header = (
        "# Generated by deploy/k8s/render.py from libs/contracts/topics.py (TOPIC_PARTITIONS): "
        "do not edit.\n"
        '# The topics of DESIGN.md ("Contracts"). Managed by Strimzi\'s topic operator, which\n'
        "# watches the Kafka cluster's namespace: the overlays move these there and name the "
        "cluster.\n"
        "# Failure and replay topics keep 30 days, so an incident can still be replayed after "
        "a holiday.\n"
    )
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "kafka.strimzi.io/v1beta2",
            "kind": "KafkaTopic",
            "metadata": {
                "name": topic.replace(".", "-"),
                "labels": {"strimzi.io/cluster": "kafka"},
            },
            "spec": {
                "topicName": topic,
                "partitions": count,
                "replicas": 3,
                "config": {
                    "min.insync.replicas": 2,
                    "retention.ms": RETENTION_MS.get(topic, FAILURE_RETENTION_MS),
                    "cleanup.policy": "delete",
                },
            },
        }
        for topic, count in (TOPIC_PARTITIONS if partitions is None else partitions).items()
    ]
    return header + yaml.safe_dump_all(docs, sort_keys=False)


def outputs(workers: list[Worker]) -> dict[Path, str]:
    """path -> the text it should hold."""
    files = {WORKERS / f"{w.folder}.yaml": worker_manifest(w) for w in workers}
    files[WORKERS / "kustomization.yaml"] = workers_kustomization(workers)
    files[KAFKA_TOPICS] = kafka_topics()
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args()
    files = outputs(discover_workers())
    leftovers = [p for p in WORKERS.glob("*.yaml") if p not in files] if WORKERS.exists() else []
    if args.check:
        stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
        stale += leftovers
        if stale:
            names = ", ".join(str(p.relative_to(HERE)) for p in stale)
            print(f"out of date: {names}; run python deploy/k8s/render.py")
            return 1
        return 0
    WORKERS.mkdir(exist_ok=True)
    for path in leftovers:  # an integration whose folder is gone
        path.unlink()
    for path, text in files.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
