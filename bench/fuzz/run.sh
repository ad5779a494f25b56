#!/usr/bin/env bash
# Schemathesis over ingest's and support's OpenAPI documents on the real stack (Kafka + FerretDB
# from deploy/local, on the fuzz bench's own ports); exits non-zero on any 5xx.
#   bench/fuzz/run.sh [--cases 10000] [--seed 0] [--markdown docs/fuzz.md]
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/infra.sh
bench_infra .run/fuzz 25092 27022
bench_python bench/fuzz/run.py "$@"
