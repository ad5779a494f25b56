"""deploy/k8s: both overlays build, every resource passes schema validation offline, and the
manifests hold what operating Switchboard needs (probes, hardening, credentials only from
Secrets, scaling bounds, network policy, topics) without mixing the two environments."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from libs.contracts.topics import CUSTOMER_EVENTS, TOPIC_PARTITIONS
from libs.runtime.integration import WorkerSettings
from libs.runtime.local_defaults import SECRET_SETTINGS
from libs.runtime.settings import ServiceSettings
from services.ingest.settings import IngestSettings
from services.support.settings import SupportSettings

from .conftest import OVERLAYS, REPO, TOOLS, kubeconform, load_render, named, of_kind, tool

#: every integration folder's worker (deploy/k8s/render.py finds them as it renders them)
WORKERS: dict[str, type[WorkerSettings]] = {
    worker.app: worker.settings for worker in load_render().discover_workers()
}
SERVICES: dict[str, type[ServiceSettings]] = {
    "ingest": IngestSettings,
    "support": SupportSettings,
    **WORKERS,
}
#: credentials each service needs beyond its settings class's required_secrets
EXTRA_SECRETS = {"support": {"zendesk_email"}}
CREDENTIALS = {*SECRET_SETTINGS, "SWITCHBOARD_MONGODB_URI", "SWITCHBOARD_ZENDESK_EMAIL"}
UVICORN_GRACEFUL_SHUTDOWN = 30  # libs/runtime/serve.py


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def env_of(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container(deployment).get("env", [])}


def config_data(docs: list[dict[str, Any]]) -> dict[str, str]:
    maps = [
        d
        for d in of_kind(docs, "ConfigMap")
        if d["metadata"]["name"].startswith("switchboard-config")
    ]
    assert len(maps) == 1
    return dict(maps[0]["data"])


# --- schema validation -----------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_resource_passes_schema_validation(overlay: str, rendered: dict[str, str]) -> None:
    result = kubeconform(rendered[overlay])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Invalid: 0, Errors: 0" in result.stdout, result.stdout


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_topics_pass_strimzi_schema(
    overlay: str, manifests: dict[str, list[dict[str, Any]]]
) -> None:
    topics = of_kind(manifests[overlay], "KafkaTopic")
    result = subprocess.run(
        [tool("node"), str(REPO / "deploy/k8s/validate_kafkatopics.mjs"), str(TOOLS / "npm")],
        input=json.dumps(topics),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": valid") == len(topics) == len(TOPIC_PARTITIONS)


# --- environments never mix ------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_an_overlay_names_only_its_own_environment(
    overlay: str, rendered: dict[str, str], manifests: dict[str, list[dict[str, Any]]]
) -> None:
    (other,) = set(OVERLAYS) - {overlay}
    assert other not in rendered[overlay], f"{overlay} mentions {other}"
    for doc in manifests[overlay]:
        namespace = doc["metadata"].get("namespace")
        if doc["kind"] == "Namespace":
            assert doc["metadata"]["name"] == f"switchboard-{overlay}"
        elif doc["kind"] == "KafkaTopic":
            assert namespace == f"kafka-{overlay}"
            assert doc["metadata"]["labels"]["strimzi.io/cluster"] == overlay
        else:
            assert namespace == f"switchboard-{overlay}", doc["metadata"]["name"]
    for deployment in of_kind(manifests[overlay], "Deployment"):
        for item in env_of(deployment).values():
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["name"] == f"switchboard-{overlay}-credentials", item
    config = config_data(manifests[overlay])
    assert config["SWITCHBOARD_ENV"] == overlay
    assert f"kafka-{overlay}" in config["SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS"]
    for scaled in of_kind(manifests[overlay], "ScaledObject"):
        servers = scaled["spec"]["triggers"][0]["metadata"]["bootstrapServers"]
        assert servers == config["SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS"]


# --- per service -----------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", SERVICES)
def test_service_deployment(
    overlay: str, name: str, manifests: dict[str, list[dict[str, Any]]]
) -> None:
    docs = manifests[overlay]
    settings = SERVICES[name]
    port = settings.model_fields["port"].default
    deployment = named(docs, "Deployment", name)
    spec = deployment["spec"]["template"]["spec"]
    main = container(deployment)
    assert main["command"] == ["python", "-m", f"services.{name.replace('-', '_')}"]
    # /metrics is on the port named `metrics`: a listener of its own for ingest and support
    # (SWITCHBOARD_METRICS_PORT), the one port of a worker
    metrics_port = settings.model_fields["metrics_port"].default
    env = env_of(deployment)
    assert env["SWITCHBOARD_PORT"]["value"] == str(port)
    if name in WORKERS:
        assert metrics_port is None
        assert "SWITCHBOARD_METRICS_PORT" not in env
        assert main["ports"] == [{"name": "metrics", "containerPort": port}]
        probe_port = "metrics"
    else:
        assert metrics_port not in (None, port)
        assert env["SWITCHBOARD_METRICS_PORT"]["value"] == str(metrics_port)
        assert main["ports"] == [
            {"name": "http", "containerPort": port},
            {"name": "metrics", "containerPort": metrics_port},
        ]
        probe_port = "http"
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": probe_port}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": probe_port}
    for kind in ("requests", "limits"):
        assert set(main["resources"][kind]) == {"cpu", "memory"}
    # hardening
    pod_security = spec["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
    security = main["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    volumes = {v["name"]: v for v in spec["volumes"]}
    tmp = next(m for m in main["volumeMounts"] if m["mountPath"] == "/tmp")
    assert "emptyDir" in volumes[tmp["name"]]
    # companions
    service = named(docs, "Service", name)
    targets = [p["targetPort"] for p in service["spec"]["ports"]]
    assert targets == (["metrics"] if name in WORKERS else ["http", "metrics"])
    assert (
        named(docs, "PodDisruptionBudget", name)["spec"]["selector"]
        == deployment["spec"]["selector"]
    )
    monitor = named(docs, "ServiceMonitor", name)
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "15s"}
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", SERVICES)
def test_credentials_come_only_from_the_secret(
    overlay: str, name: str, manifests: dict[str, list[dict[str, Any]]]
) -> None:
    docs = manifests[overlay]
    env = env_of(named(docs, "Deployment", name))
    settings = SERVICES[name]
    needed = {
        f"SWITCHBOARD_{field.upper()}"
        for field in (*settings.required_secrets, "mongodb_uri", *EXTRA_SECRETS.get(name, ()))
    }
    for variable in needed:
        assert variable in env, f"{name} lacks {variable}"
    for variable, item in env.items():
        if variable in CREDENTIALS:
            assert "value" not in item, f"{name}: {variable} has a literal value"
            assert item["valueFrom"]["secretKeyRef"]["key"] == variable
    config = config_data(docs)
    assert not set(config) & CREDENTIALS
    assert config["SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS"]
    assert config["SWITCHBOARD_ENV"] != "local"
    assert config["SWITCHBOARD_HOST"] == "0.0.0.0"
    assert not of_kind(docs, "Secret"), "Secrets are created out of band, never shipped"


# --- scaling and shutdown ------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingest_scales_on_cpu(overlay: str, manifests: dict[str, list[dict[str, Any]]]) -> None:
    hpa = named(manifests[overlay], "HorizontalPodAutoscaler", "ingest")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "ingest"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] >= 2
    assert "replicas" not in named(manifests[overlay], "Deployment", "ingest")["spec"]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", WORKERS)
def test_workers_scale_on_lag_within_the_partitions(
    overlay: str, name: str, manifests: dict[str, list[dict[str, Any]]]
) -> None:
    docs = manifests[overlay]
    settings = WORKERS[name]
    deployment = named(docs, "Deployment", name)
    assert "replicas" not in deployment["spec"]
    scaled = named(docs, "ScaledObject", name)
    assert scaled["spec"]["scaleTargetRef"]["name"] == name
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    meta = trigger["metadata"]
    prefix = ServiceSettings.model_fields["kafka_group_prefix"].default
    assert meta["consumerGroup"] == f"{prefix}-{settings.integration}"  # worker_app.group_id
    assert meta["topic"] == CUSTOMER_EVENTS
    assert int(meta["lagThreshold"]) > 0
    env = env_of(deployment)
    integration = settings.integration.upper()
    concurrency = int(env[f"SWITCHBOARD_{integration}_CONCURRENCY"]["value"])
    partitions = TOPIC_PARTITIONS[CUSTOMER_EVENTS]
    assert scaled["spec"]["maxReplicaCount"] <= partitions
    assert scaled["spec"]["maxReplicaCount"] * concurrency <= partitions, "idle consumers"
    assert env[f"SWITCHBOARD_{integration}_MODE"]["value"] in ("off", "shadow", "on")
    assert 0 <= float(env[f"SWITCHBOARD_{integration}_ROLLOUT_PERCENT"]["value"]) <= 100


@pytest.mark.parametrize("name", WORKERS)
def test_workers_get_time_to_finish_in_flight_work(
    name: str, manifests: dict[str, list[dict[str, Any]]]
) -> None:
    """On SIGTERM uvicorn closes connections (up to 30 s), then the worker drains for
    SHUTDOWN_GRACE_SECONDS; that must cover an attempt in flight (a read and a few writes at
    the HTTP timeout), and the pod's grace period must cover both."""
    settings = WORKERS[name]
    deployment = named(manifests["production"], "Deployment", name)
    env = env_of(deployment)
    drain = float(
        env[f"SWITCHBOARD_{settings.integration.upper()}_SHUTDOWN_GRACE_SECONDS"]["value"]
    )
    http_timeout = settings.model_fields["http_timeout_seconds"].default
    assert drain >= 3 * http_timeout
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= drain + UVICORN_GRACEFUL_SHUTDOWN + 10


def test_http_services_get_time_to_finish_requests(
    manifests: dict[str, list[dict[str, Any]]],
) -> None:
    for name in ("ingest", "support"):
        deployment = named(manifests["production"], "Deployment", name)
        pre_stop = container(deployment)["lifecycle"]["preStop"]["sleep"]["seconds"]
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace >= pre_stop + UVICORN_GRACEFUL_SHUTDOWN + 10


# --- network policy --------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies(overlay: str, manifests: dict[str, list[dict[str, Any]]]) -> None:
    policies = {
        p["metadata"]["name"]: p["spec"] for p in of_kind(manifests[overlay], "NetworkPolicy")
    }
    deny = policies.pop("default-deny-all")
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    # every container serves /metrics on its port named `metrics`, which the scrape policy
    # names (so a new worker needs no entry in it); a public port is never that one
    public = {}
    for deployment in of_kind(manifests[overlay], "Deployment"):
        ports = {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}
        assert "metrics" in ports
        if "http" in ports:
            assert ports["http"] != ports["metrics"]
            public[deployment["metadata"]["name"]] = ports["http"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "switchboard"
    assert public == {"ingest": 8080, "support": 8081}
    reachable = set()
    for name, spec in policies.items():
        for rule in spec.get("ingress", []):
            selector = spec["podSelector"]["matchLabels"]
            if selector.get("app.kubernetes.io/name"):
                target = selector["app.kubernetes.io/name"]
                reachable.add(target)
                # the public policies open the main port only, never the metrics one
                assert rule["ports"] == [{"protocol": "TCP", "port": public[target]}], name
            else:  # the scrape policy: only the monitoring namespace, only the metrics ports
                assert rule["from"] == [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                        }
                    }
                ], name
                assert rule["ports"] == [{"protocol": "TCP", "port": "metrics"}], name
        for rule in spec.get("egress", []):
            ports = {(p["protocol"], p["port"]) for p in rule["ports"]}
            assert ports in (
                {("UDP", 53), ("TCP", 53)},
                {("TCP", 9092)},
                {("TCP", 27017)},
                {("TCP", 443)},
            ), name
            if ("TCP", 9092) in ports:
                peer = rule["to"][0]["namespaceSelector"]["matchLabels"]
                assert peer == {"kubernetes.io/metadata.name": f"kafka-{overlay}"}
            if ("TCP", 27017) in ports:
                peer = rule["to"][0]["namespaceSelector"]["matchLabels"]
                assert peer == {"kubernetes.io/metadata.name": f"mongodb-{overlay}"}
            if ("TCP", 443) in ports:
                assert "10.0.0.0/8" in rule["to"][0]["ipBlock"]["except"]
    assert reachable == {"ingest", "support"}


# --- configuration, topics, monitoring ------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_mapping_file_is_a_generated_configmap_mounted_in_every_worker(
    overlay: str, manifests: dict[str, list[dict[str, Any]]]
) -> None:
    docs = manifests[overlay]
    (mapping,) = [
        m
        for m in of_kind(docs, "ConfigMap")
        if m["metadata"]["name"].startswith("switchboard-mapping-")
    ]
    assert mapping["data"] == {"mapping.yaml": (REPO / "config" / "mapping.yaml").read_text()}
    path = Path(config_data(docs)["SWITCHBOARD_MAPPING_FILE"])
    assert "mapping_file" in WorkerSettings.model_fields  # SWITCHBOARD_MAPPING_FILE
    for name in WORKERS:
        deployment = named(docs, "Deployment", name)
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        mount = next(
            m for m in container(deployment)["volumeMounts"] if m["mountPath"] == str(path.parent)
        )
        assert volumes[mount["name"]]["configMap"]["name"] == mapping["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_topics_match_the_contracts(
    overlay: str, manifests: dict[str, list[dict[str, Any]]]
) -> None:
    topics = {
        t["spec"]["topicName"]: t["spec"]["partitions"]
        for t in of_kind(manifests[overlay], "KafkaTopic")
    }
    assert topics == TOPIC_PARTITIONS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_alerts_and_dashboard_ship_from_their_sources(
    overlay: str, manifests: dict[str, list[dict[str, Any]]]
) -> None:
    docs = manifests[overlay]
    (rule,) = of_kind(docs, "PrometheusRule")
    source = yaml.safe_load((REPO / "deploy/monitoring/alerts.rules.yml").read_text())
    assert rule["spec"]["groups"] == source["groups"]
    dashboard = named(docs, "ConfigMap", "switchboard-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["data"] == {
        "switchboard.json": (REPO / "deploy/monitoring/dashboard.json").read_text()
    }


def every_seconds(schedule: str) -> int:
    """The interval of a cron schedule of the form `*/M * * * *` or `0 */H * * *`."""
    minute, hour, *rest = schedule.split()
    assert rest == ["*", "*", "*"], schedule
    if hour == "*":
        return int(minute.removeprefix("*/")) * 60
    assert minute.isdigit(), schedule
    return int(hour.removeprefix("*/")) * 3600


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_canary_runs_every_4_hours_one_at_a_time_with_the_services_settings(
    overlay: str, manifests: dict[str, list[dict[str, Any]]]
) -> None:
    docs = manifests[overlay]
    cron = named(docs, "CronJob", "switchboard-canary")
    spec = cron["spec"]
    # Circle's Business plan: 186 runs a month at 2 calls, 7 % of its 5,000 (docs/deploy.md)
    assert every_seconds(spec["schedule"]) == 4 * 3600
    assert spec["concurrencyPolicy"] == "Forbid"
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0  # a failed run is the measurement, not retried
    assert job["activeDeadlineSeconds"] < 15 * 60
    pod = job["template"]
    labels = pod["metadata"]["labels"]
    assert labels["app.kubernetes.io/part-of"] == "switchboard"  # DNS, store, HTTPS egress
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["automountServiceAccountToken"] is False
    (box,) = pod["spec"]["containers"]
    assert box["command"][:4] == ["python", "-m", "services.cli", "canary"]
    assert (
        box["image"]
        == named(docs, "Deployment", "support")["spec"]["template"]["spec"]["containers"][0][
            "image"
        ]
    )
    assert box["securityContext"]["readOnlyRootFilesystem"] is True
    assert box["securityContext"]["allowPrivilegeEscalation"] is False
    config = config_data(docs)
    (ref,) = box["envFrom"]
    assert ref["configMapRef"]["name"].startswith("switchboard-config")
    env = {item["name"]: item for item in box["env"]}
    # what SwitchboardCanaryStale measures against is the schedule's own interval
    assert env["SWITCHBOARD_CANARY_INTERVAL_SECONDS"]["value"] == str(
        every_seconds(spec["schedule"])
    )
    for variable in (
        "SWITCHBOARD_STRIPE_WEBHOOK_SECRETS",
        "SWITCHBOARD_APP_TOKENS",
        "SWITCHBOARD_MONGODB_URI",
    ):
        secret = env[variable]["valueFrom"]["secretKeyRef"]
        assert secret == {"name": f"switchboard-{overlay}-credentials", "key": variable}
    # ingest as Stripe reaches it, in this environment (the canary derives its address)
    public = config["SWITCHBOARD_PUBLIC_INGEST_URL"]
    assert public.startswith("https://")
    assert public.endswith("/webhooks/stripe")
    # the canary reaches ingest over HTTPS to its public address: egress every Switchboard pod has
    https = [
        p["spec"]
        for p in of_kind(docs, "NetworkPolicy")
        if any(
            (r["protocol"], r["port"]) == ("TCP", 443)
            for e in p["spec"].get("egress", [])
            for r in e["ports"]
        )
    ]
    assert https
    assert https[0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/part-of": "switchboard"}
