#!/usr/bin/env bash
# End-to-end benchmark on the real stack (Kafka + FerretDB from deploy/local, on bench ports):
# webhook -> Circle, Kit and HubSpot synced, and refund -> access removed.
#   bench/e2e/run.sh [--rate 100] [--seconds 10] [--refunds 50]
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/infra.sh
bench_infra .run/bench 29092 27019
bench_python bench/e2e/run.py "$@"
