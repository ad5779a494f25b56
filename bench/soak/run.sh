#!/usr/bin/env bash
# Soak benchmark under faults on the real stack (Kafka + FerretDB from deploy/local, on soak
# ports and in .run/soak): N customers' webhooks while services die, Kafka and the store go
# away and the providers misbehave; graded from the sandbox and the status API.
#   bench/soak/run.sh [--customers 10000 | --quick] [--rate 20] [--schedule full|ci]
#                     [--no-faults] [--out PREFIX]
set -euo pipefail
cd "$(dirname "$0")/../.."
export SWITCHBOARD_LOCAL_RUN_DIR=.run/soak SWITCHBOARD_LOCAL_KAFKA_PORT=24092 \
  SWITCHBOARD_LOCAL_KAFKA_CONTROLLER_PORT=24093 SWITCHBOARD_LOCAL_MONGO_PORT=27020
deploy/local/infra.sh reset >/dev/null
deploy/local/infra.sh start | tail -1
trap 'deploy/local/infra.sh stop >/dev/null' EXIT INT TERM
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
.venv/bin/python bench/soak/run.py "$@"
