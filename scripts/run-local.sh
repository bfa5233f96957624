#!/usr/bin/env bash
# make run: the server and a local worker in one process on http://127.0.0.1:8000 (queue "local"),
# with SQLite and files in .asman-data/. Where no Docker engine answers (a fresh machine), a private engine is
# started the way the tests start theirs, with the local image asman/busybox:latest, and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR="${ASMAN_DATA_DIR:-$PWD/.asman-data}"
ENGINE_DIR="${ASMAN_DOCKER_DIR:-/tmp/asman-docker}"
started_engine=""

engine_answers() {
    if [ -n "${DOCKER_HOST:-}" ]; then docker -H "$DOCKER_HOST" info >/dev/null 2>&1; else docker info >/dev/null 2>&1; fi
}

if ! command -v docker >/dev/null 2>&1 || ! engine_answers; then
    echo "No Docker engine answers: starting a private one in $ENGINE_DIR (scripts/docker-engine.sh)."
    bash scripts/docker-engine.sh start "$ENGINE_DIR"
    eval "$(bash scripts/docker-engine.sh env "$ENGINE_DIR")"
    started_engine=1
    # That engine has no bridge and no iptables: a job network could not reach anywhere, so jobs get none.
    export ASMAN_WORKER_NETWORK="${ASMAN_WORKER_NETWORK:-none}"
fi

stop_engine() {
    if [ -n "$started_engine" ]; then bash scripts/docker-engine.sh stop "$ENGINE_DIR" || true; fi
}
trap stop_engine EXIT

cat <<MSG

  Asman is starting on http://127.0.0.1:${ASMAN_WORKER_PORT:-8000}  (queue: local, data: $DATA_DIR)
  Try:  curl -s -X POST http://127.0.0.1:${ASMAN_WORKER_PORT:-8000}/q/local -H 'content-type: application/json' \\
          -d '{"definition": {"image": "asman/busybox:latest", "command": "sh -c \\"echo hi > /outputs/a.txt\\""}}'

MSG
.venv/bin/asman worker --mode local --data-directory "$DATA_DIR" "$@" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' INT TERM
wait $pid || true
wait $pid 2>/dev/null || true
