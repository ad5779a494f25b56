# Sourced by each benchmark's run.sh: a fresh Kafka + FerretDB from deploy/local on that
# benchmark's own run folder and ports (kept below 32768, clear of the kernel's ephemeral
# ports, so a client socket never takes them while a server restarts), stopped on exit.
#   source bench/infra.sh; bench_infra RUN_DIR KAFKA_PORT MONGO_PORT
bench_infra() {
  export SWITCHBOARD_LOCAL_RUN_DIR="$1" SWITCHBOARD_LOCAL_KAFKA_PORT="$2" \
    SWITCHBOARD_LOCAL_KAFKA_CONTROLLER_PORT="$(($2 + 1))" SWITCHBOARD_LOCAL_MONGO_PORT="$3"
  deploy/local/infra.sh reset >/dev/null
  deploy/local/infra.sh start | tail -1
  trap 'deploy/local/infra.sh stop >/dev/null' EXIT INT TERM
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
}
