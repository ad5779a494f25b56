#!/usr/bin/env bash
# Launch-day benchmark on the real stack (Kafka + FerretDB from deploy/local, on launch ports and
# in .run/launch), the sandbox at the providers' published limits: N purchases within 60 s and R
# refunds of earlier customers 10 s into the burst; calls per purchase, time to converge against
# the quota bound, refund -> access removed, 429s, tickets.
#   bench/launch/run.sh [--purchases 1000] [--refunds 20] [--timeout 900] [--out PREFIX]
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/infra.sh
bench_infra .run/launch 23092 27023
bench_python bench/launch/run.py "$@"
