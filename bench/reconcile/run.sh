#!/usr/bin/env bash
# Reconcile sweep cost: one sweep per integration for N customers on the in-process sandbox at
# the providers' published limits, against a fresh FerretDB (Kafka is started by the launcher
# too, and unused) on reconcile ports in .run/reconcile: calls, seconds, what bounds them.
#   bench/reconcile/run.sh [--customers 1000,10000] [--drift 0.01] [--out docs/reconcile-bench]
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/infra.sh
bench_infra .run/reconcile 24092 27024
bench_python bench/reconcile/run.py "$@"
