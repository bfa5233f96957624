#!/usr/bin/env bash
# make test: lint, then unit, integration and end-to-end tests. Services the tests need (a private dockerd,
# PostgreSQL, S3, Chromium) are installed if missing and started by the test fixtures themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
echo "== lint"
$BIN/ruff check src tests
$BIN/ruff format --check src tests
$BIN/mypy
echo "== tests"
exec $BIN/pytest -q -ra --durations=15 "$@"
