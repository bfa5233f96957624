#!/usr/bin/env bash
# make test: lint, then unit, integration and end-to-end tests. Services the tests need (a private dockerd,
# PostgreSQL, S3, Chromium) are installed if missing and started by the test fixtures themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
echo "== lint"
$BIN/ruff check src tests bench scripts docs/examples
$BIN/ruff format --check src tests bench scripts docs/examples
$BIN/mypy
# The blocking SDK is generated from its asyncio source: a hand edit or a forgotten regeneration fails here.
$BIN/python scripts/unasync.py --check
# Playwright's sync API keeps an event loop running in the main thread while the browser is open, which
# asyncio tests cannot share: the browser tests run in their own pytest process.
echo "== unit and integration tests"
status=0
$BIN/pytest -q -ra --durations=15 tests/unit tests/contract tests/integration "$@" || status=$?
echo "== browser tests"
$BIN/pytest -q -ra --durations=5 tests/e2e "$@" || status=$?
exit $status
