#!/usr/bin/env bash
# Provision the offline checkers for deploy/ into .cache/deploy (first run only; later runs
# find everything in place and print nothing). Pinned versions; only package registries:
#   kustomize, kubeconform, promtool     Go module proxy (go install)
#   Kubernetes JSON schemas              PyPI: kubernetes-validate ships them per version
#   ServiceMonitor / PrometheusRule CRDs Go module proxy: prometheus-operator's module ships them
#   ScaledObject CRD                     Go module proxy: KEDA's module ships it
#   KafkaTopic validator                 npm: @kubernetes-models/strimzi-kafka-operator
# kubeconform never downloads: it reads the schemas from .cache/deploy/schemas.
set -euo pipefail
cd "$(dirname "$0")/../.."

KUSTOMIZE_VERSION=v5.8.1
KUBECONFORM_VERSION=v0.7.0
# Prometheus 3.16's Go module version (its promtool checks the rules and each service's /metrics)
PROMETHEUS_VERSION=v0.316.0
KUBERNETES_VALIDATE_VERSION=1.37.0
KUBERNETES_VERSION=1.33.0
PROMETHEUS_OPERATOR_VERSION=v0.85.0
KEDA_VERSION=v2.17.2
STRIMZI_MODELS_VERSION=1.0.1

# the built-in kinds the manifests may use (strict schemas); add a kind here before using it
KINDS=(namespace-v1 serviceaccount-v1 configmap-v1 service-v1 deployment-apps-v1
  poddisruptionbudget-policy-v1 horizontalpodautoscaler-autoscaling-v2
  networkpolicy-networking-v1 cronjob-batch-v1)

OUT=.cache/deploy
BIN=$OUT/bin
SCHEMAS=$OUT/schemas
mkdir -p "$BIN" "$SCHEMAS"
stamp() { echo "$OUT/.$1-$2"; }

go_tool() { # name module version
  if [[ ! -f $(stamp "$1" "$3") || ! -x $BIN/$1 ]]; then
    echo "deploy-check: installing $1 $3 (first run)"
    GOBIN="$PWD/$BIN" GOFLAGS=-mod=mod go install "$2@$3"
    touch "$(stamp "$1" "$3")"
  fi
}
go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION"
go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
go_tool promtool github.com/prometheus/prometheus/cmd/promtool "$PROMETHEUS_VERSION"

if [[ ! -f $(stamp k8s-schemas "$KUBERNETES_VALIDATE_VERSION-$KUBERNETES_VERSION-${#KINDS[@]}") ]]; then
  echo "deploy-check: fetching Kubernetes $KUBERNETES_VERSION schemas (kubernetes-validate $KUBERNETES_VALIDATE_VERSION)"
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  rm -rf "$SCHEMAS/k8s"
  python3 - "$tmp" "$SCHEMAS/k8s" "v$KUBERNETES_VERSION-local-strict" <<'PY'
import glob, sys, zipfile
tmp, dest, folder = sys.argv[1:]
prefix = f"kubernetes_validate/kubernetes-json-schema/{folder}/"
with zipfile.ZipFile(glob.glob(f"{tmp}/kubernetes_validate-*.whl")[0]) as wheel:
    for name in wheel.namelist():
        if name.startswith(prefix):
            wheel.extract(name, f"{tmp}/x")
PY
  .venv/bin/python deploy/k8s/k8s_schemas.py \
    "$tmp/x/kubernetes_validate/kubernetes-json-schema/v$KUBERNETES_VERSION-local-strict" "$SCHEMAS/k8s" \
    "${KINDS[@]}"
  rm -rf "$tmp"
  touch "$(stamp k8s-schemas "$KUBERNETES_VALIDATE_VERSION-$KUBERNETES_VERSION-${#KINDS[@]}")"
fi

if [[ ! -f $(stamp crd-schemas "$PROMETHEUS_OPERATOR_VERSION-$KEDA_VERSION") ]]; then
  echo "deploy-check: generating CRD schemas (prometheus-operator $PROMETHEUS_OPERATOR_VERSION, KEDA $KEDA_VERSION)"
  moddir() { GOFLAGS=-mod=mod go mod download -json "$1@$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'; }
  po=$(moddir github.com/prometheus-operator/prometheus-operator "$PROMETHEUS_OPERATOR_VERSION")
  keda=$(moddir github.com/kedacore/keda/v2 "$KEDA_VERSION")
  rm -rf "$SCHEMAS/crds"
  .venv/bin/python deploy/k8s/crd_schemas.py "$SCHEMAS/crds" \
    "$po/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
    "$po/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" \
    "$keda/config/crd/bases/keda.sh_scaledobjects.yaml"
  touch "$(stamp crd-schemas "$PROMETHEUS_OPERATOR_VERSION-$KEDA_VERSION")"
fi

if [[ ! -f $(stamp strimzi-models "$STRIMZI_MODELS_VERSION") ]]; then
  echo "deploy-check: installing the KafkaTopic validator (npm, first run)"
  mkdir -p "$OUT/npm"
  echo '{"private": true}' > "$OUT/npm/package.json"
  npm install --prefix "$OUT/npm" --silent --no-audit --no-fund --engine-strict=false \
    "@kubernetes-models/strimzi-kafka-operator@$STRIMZI_MODELS_VERSION"
  touch "$(stamp strimzi-models "$STRIMZI_MODELS_VERSION")"
fi
