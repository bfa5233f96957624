"""A real `asman server` process configured through variables: JSON log lines, the access log, a warning for a
mistyped variable, and a bad value that stops it with one line naming the variable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.server import start_server


def test_json_logs_access_log_and_unknown_variables(tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "data",
        {"ASMAN_LOG_FORMAT": "json", "ASMAN_ACCESS_LOG": "true", "ASMAN_DATABSE_URL": "postgresql://typo"},
    )
    try:
        assert httpx.get(f"{server.url}/q/settings-q/status", timeout=5).status_code == 200
        deadline = time.monotonic() + 10
        while '"/q/settings-q/status"' not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    [warning] = [line for line in lines if line["logger"] == "asman.settings"]
    assert warning["level"] == "warning"
    assert (
        "ASMAN_DATABSE_URL" in warning["message"] and "did you mean ASMAN_DATABASE_URL?" in warning["message"]
    )
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert {"method": "GET", "path": "/q/settings-q/status", "status": 200}.items() <= access[-1].items()


def test_a_bad_variable_stops_the_server_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "ASMAN_DATA_DIR": str(tmp_path), "ASMAN_RATE_LIMIT": "10/s"}
    done = subprocess.run(
        [sys.executable, "-m", "asman.cli", "server"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "asman: ASMAN_RATE_LIMIT=10/s is not valid: expected requests per second as a number, e.g. 10 or 0.5"
        " (0 turns the limit off)"
    ]
