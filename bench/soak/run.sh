#!/usr/bin/env bash
# Soak benchmark under faults on the real stack (Kafka + FerretDB from deploy/local, on soak
# ports and in .run/soak): N customers' webhooks while services die, Kafka and the store go
# away and the providers misbehave; graded from the sandbox and the status API.
#   bench/soak/run.sh [--customers 10000 | --quick] [--rate 20] [--schedule full|ci]
#                     [--no-faults] [--out PREFIX]
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/infra.sh
bench_infra .run/soak 24092 27020
bench_python bench/soak/run.py "$@"
