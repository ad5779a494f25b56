#!/usr/bin/env bash
# The naive inline chain vs Switchboard on one sandbox (Kafka + FerretDB from deploy/local, on
# this benchmark's own ports and run folder):
#   bench/naive/run.sh [--purchases 120] [--rate 10] [--refund-every 10] [--phases abc]
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/infra.sh
bench_infra .run/naive 26092 27021
BENCH_KAFKA=127.0.0.1:26092 \
  BENCH_MONGODB_URI="mongodb://127.0.0.1:27021/?directConnection=true&maxPoolSize=1" \
  bench_python bench/naive/run.py "$@"
