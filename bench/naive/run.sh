#!/usr/bin/env bash
# The naive inline chain vs Switchboard on one sandbox (Kafka + FerretDB from deploy/local, on
# this benchmark's own ports and run folder):
#   bench/naive/run.sh [--purchases 120] [--rate 10] [--refund-every 10] [--phases abc]
set -euo pipefail
cd "$(dirname "$0")/../.."
export SWITCHBOARD_LOCAL_RUN_DIR=.run/naive SWITCHBOARD_LOCAL_KAFKA_PORT=26092 \
  SWITCHBOARD_LOCAL_KAFKA_CONTROLLER_PORT=26093 SWITCHBOARD_LOCAL_MONGO_PORT=27021
deploy/local/infra.sh reset >/dev/null
deploy/local/infra.sh start | tail -1
trap 'deploy/local/infra.sh stop >/dev/null' EXIT INT TERM
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
BENCH_KAFKA=127.0.0.1:26092 \
  BENCH_MONGODB_URI="mongodb://127.0.0.1:27021/?directConnection=true&maxPoolSize=1" \
  .venv/bin/python bench/naive/run.py "$@"
