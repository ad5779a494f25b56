#!/usr/bin/env bash
# Ingest benchmark on the real stack (Kafka + FerretDB from deploy/local, on bench ports):
# signed-webhook throughput and latency, beside a bare endpoint on the same server (the ceiling).
#   bench/ingest/run.sh [seconds per phase, default 10]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_PHASE="${1:-10}"
source bench/infra.sh
bench_infra .run/bench 29092 27019
INGEST_PORT=28080
pid=""
# (each step on its own: under `set -e` a `kill ... && wait ...` chain ended the cleanup at the
# killed ingest's non-zero `wait`, and Kafka and FerretDB were left running)
stop_ingest() {
  if [[ -n $pid ]] && kill "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null; fi
  pid=""
}
BENCH_CLEANUP+=(stop_ingest)

echo "building the load generator (Go) ..."
(cd bench/ingest/loadgen && go build -o ../../../.run/bench/loadgen .)
LOADGEN=.run/bench/loadgen

SWITCHBOARD_ENV=local SWITCHBOARD_PORT=$INGEST_PORT SWITCHBOARD_LOG_LEVEL=WARNING \
  SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:29092 \
  SWITCHBOARD_MONGODB_URI='mongodb://127.0.0.1:27019/?directConnection=true&maxPoolSize=1' \
  SWITCHBOARD_BENCH_BARE_ENDPOINT=true \
  .venv/bin/python -m services.ingest > .run/bench/ingest.log 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$INGEST_PORT/healthz" >/dev/null && break; sleep 0.2; done

echo "${SECONDS_PER_PHASE}s per phase"
$LOADGEN -url "http://127.0.0.1:$INGEST_PORT/webhooks/stripe" -duration 3s -label "warm-up" >/dev/null
$LOADGEN -url "http://127.0.0.1:$INGEST_PORT/bench/bare" -duration "${SECONDS_PER_PHASE}s" -connections 32 -label "bare endpoint (ceiling)"
$LOADGEN -url "http://127.0.0.1:$INGEST_PORT/webhooks/stripe" -duration "${SECONDS_PER_PHASE}s" -connections 32 -label "signed webhooks"
for rate in 50 100 1000; do
  $LOADGEN -url "http://127.0.0.1:$INGEST_PORT/webhooks/stripe" -duration "${SECONDS_PER_PHASE}s" -rate "$rate" -connections 64 -label "signed webhooks"
done
sleep 2
curl -s "http://127.0.0.1:$INGEST_PORT/metrics" | grep -E '^switchboard_ingest_(outbox_backlog|events_published_total|publish_errors_total)' || true
