#!/usr/bin/env bash
# make run: server + local worker on http://127.0.0.1:8000, SQLite and files in the data directory.
# Where no Docker engine answers (a fresh machine), a private engine is started the way the tests do.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR="${ASMAN_DATA_DIR:-$PWD/.asman-data}"
if [ -z "${DOCKER_HOST:-}" ] && ! docker info >/dev/null 2>&1; then
    if [ -x scripts/docker-engine.sh ]; then
        bash scripts/docker-engine.sh start "${DOCKER_DIR:-/tmp/asman-docker}"
        eval "$(bash scripts/docker-engine.sh env "${DOCKER_DIR:-/tmp/asman-docker}")"
    fi
fi
export ASMAN_DATA_DIR="$DATA_DIR"
if .venv/bin/asman worker --help >/dev/null 2>&1; then
    exec .venv/bin/asman worker --mode local --data-directory "$DATA_DIR"
fi
exec .venv/bin/asman server --data-directory "$DATA_DIR"
