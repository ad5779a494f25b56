#!/usr/bin/env bash
# Schemathesis over ingest's and support's OpenAPI documents on the real stack (Kafka + FerretDB
# from deploy/local, on the fuzz bench's own ports); exits non-zero on any 5xx.
#   bench/fuzz/run.sh [--cases 10000] [--seed 0] [--markdown docs/fuzz.md]
set -euo pipefail
cd "$(dirname "$0")/../.."
export SWITCHBOARD_LOCAL_RUN_DIR=.run/fuzz SWITCHBOARD_LOCAL_KAFKA_PORT=25092 \
  SWITCHBOARD_LOCAL_KAFKA_CONTROLLER_PORT=25093 SWITCHBOARD_LOCAL_MONGO_PORT=27022
deploy/local/infra.sh reset >/dev/null
deploy/local/infra.sh start | tail -1
trap 'deploy/local/infra.sh stop >/dev/null' EXIT INT TERM
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
.venv/bin/python bench/fuzz/run.py "$@"
