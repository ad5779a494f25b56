#!/usr/bin/env bash
# End-to-end benchmark on the real stack (Kafka + FerretDB from deploy/local, on bench ports):
# webhook -> Circle, Kit and HubSpot synced, and refund -> access removed.
#   bench/e2e/run.sh [--rate 100] [--seconds 10] [--refunds 50]
set -euo pipefail
cd "$(dirname "$0")/../.."
export SWITCHBOARD_LOCAL_RUN_DIR=.run/bench SWITCHBOARD_LOCAL_KAFKA_PORT=29092 \
  SWITCHBOARD_LOCAL_KAFKA_CONTROLLER_PORT=29093 SWITCHBOARD_LOCAL_MONGO_PORT=27019
deploy/local/infra.sh reset >/dev/null
deploy/local/infra.sh start | tail -1
trap 'deploy/local/infra.sh stop >/dev/null' EXIT INT TERM
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
.venv/bin/python bench/e2e/run.py "$@"
