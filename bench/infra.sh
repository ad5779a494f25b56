# Sourced by each benchmark's run.sh: a fresh Kafka + FerretDB from the local launcher
# (`python -m deploy.local`) on that benchmark's own run folder and ports (kept below 32768, clear
# of the kernel's ephemeral ports, so a client socket never takes them while a server restarts).
#   source bench/infra.sh; bench_infra RUN_DIR KAFKA_PORT MONGO_PORT
# On exit, however it comes (the end, an error under `set -e`, Ctrl-C, SIGTERM), the hooks in
# BENCH_CLEANUP run, then `stop` ends everything recorded in the run folder: the services a
# benchmark's Stack started, Kafka and FerretDB. Nothing is left running.
LAUNCHER=(.venv/bin/python -m deploy.local)
BENCH_CLEANUP=()

bench_cleanup() {
  set +e  # every step runs, whatever the one before returned
  local hook
  for hook in "${BENCH_CLEANUP[@]}"; do "$hook"; done
  "${LAUNCHER[@]}" stop >/dev/null
}

bench_infra() {
  export SWITCHBOARD_LOCAL_RUN_DIR="$1" SWITCHBOARD_LOCAL_KAFKA_PORT="$2" \
    SWITCHBOARD_LOCAL_KAFKA_CONTROLLER_PORT="$(($2 + 1))" SWITCHBOARD_LOCAL_MONGO_PORT="$3"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM  # the EXIT trap then cleans up, once
  "${LAUNCHER[@]}" reset >/dev/null
  "${LAUNCHER[@]}" start | tail -1
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
}

# Run a benchmark's Python driver in the background and wait for it, so a SIGTERM or Ctrl-C to
# the script is handled at once (bash runs a trap only after a foreground child ends). On exit
# the driver gets SIGTERM; `stop` then ends the services it had started (their pid files are in
# the run folder) and the infrastructure.
bench_python() {
  .venv/bin/python "$@" &
  BENCH_PID=$!
  BENCH_CLEANUP+=(bench_stop_python)
  local rc=0
  wait "$BENCH_PID" || rc=$?
  BENCH_PID=""
  return "$rc"
}

bench_stop_python() {
  if [[ -n ${BENCH_PID:-} ]] && kill -TERM "$BENCH_PID" 2>/dev/null; then
    wait "$BENCH_PID" 2>/dev/null
  fi
  BENCH_PID=""
}
