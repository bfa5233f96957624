"""State survives a server restart: SQLite and blobs are on disk."""

from __future__ import annotations

import hashlib
import signal
from pathlib import Path

import httpx

from tests.support.server import start_server

VECTOR = {"image": "alpine:3.19.1", "command": "echo hello"}
VECTOR_ID = "0b6397b71c6c72e7845bf1113894f6d9567b8e66800d0803940c5b58ed63a001"


def test_everything_is_still_there_after_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    blob = b"z" * (10 * 1024 * 1024)
    key = hashlib.sha256(blob).hexdigest()
    try:
        assert httpx.post(f"{server.url}/q/demo", json={"definition": VECTOR}).json()["jobId"] == VECTOR_ID
        other = httpx.post(
            f"{server.url}/q/demo", json={"definition": {**VECTOR, "command": "echo 2"}}
        ).json()
        httpx.post(f"{server.url}/q/demo/j/{other['jobId']}/cancel").raise_for_status()
        assert httpx.put(f"{server.url}/f/{key}", content=blob, timeout=30).status_code == 201
    finally:
        server.stop(signal.SIGKILL)  # no clean shutdown: what was acknowledged must be on disk

    server = start_server(data_dir, port=None)
    try:
        jobs = httpx.get(f"{server.url}/q/demo").json()["data"]
        assert jobs[VECTOR_ID]["state"] == "Queued"
        assert jobs[other["jobId"]]["finishedReason"] == "Cancelled"
        assert httpx.get(f"{server.url}/f/{key}", timeout=30).content == blob
        assert 'queue_length{queue="demo"} 1.0' in httpx.get(f"{server.url}/q/demo/metrics").text
    finally:
        server.stop()
