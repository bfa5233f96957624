"""Faults the server survives: killed under load, a full disk. (Worker and engine faults live beside the
worker tests; PostgreSQL and S3 outages beside the scale-out tests.)"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import start_server


async def _submit_until_killed(url: str, accepted: list[str], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        i = 0
        while not stop.is_set():
            i += 1
            body = {"definition": {"image": "alpine", "command": f"echo {id(accepted)}-{i}-{len(accepted)}"}}
            try:
                response = await client.post(f"{url}/q/load", json=body)
            except httpx.HTTPError:
                return  # the server is gone: the request may or may not have landed, it was never acknowledged
            if response.status_code == 200:
                accepted.append(response.json()["jobId"])


async def test_kill_9_under_submit_load_loses_no_acknowledged_job(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    accepted: list[str] = []
    stop = asyncio.Event()
    clients = [asyncio.create_task(_submit_until_killed(server.url, accepted, stop)) for _ in range(8)]
    # Kill mid-load: at least 2 s in and 100 acknowledged, however slow this machine is today.
    deadline = time.monotonic() + 60
    await asyncio.sleep(2.0)
    while len(accepted) <= 100:
        assert time.monotonic() < deadline, "the load never got going"
        await asyncio.sleep(0.1)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    stop.set()
    await asyncio.gather(*clients)
    print(f"acknowledged before kill -9: {len(accepted)}")

    server = start_server(data_dir)
    try:
        stored: list[str] = []
        cursor = None
        async with httpx.AsyncClient(timeout=30) as client:
            while True:
                params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
                page = (await client.get(f"{server.url}/q/load", params=params)).json()
                stored += list(page["data"])
                cursor = page["nextCursor"]
                if cursor is None:
                    break
            status = (await client.get(f"{server.url}/q/load/status")).json()
        assert set(accepted) <= set(stored), f"{len(set(accepted) - set(stored))} acknowledged jobs were lost"
        assert len(stored) == len(set(stored)), "a job is stored twice"
        assert status["counts"]["Queued"] == len(stored), "the per-state counts drifted from the rows"
    finally:
        server.stop()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs as the data directory: a real ENOSPC, not a simulated one."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if (
        not shutil.which("mount")
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
            capture_output=True,
            check=False,
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_gives_a_clear_error_and_no_corruption(tiny_disk: Path) -> None:
    server = start_server(tiny_disk / "data")
    try:
        accepted = []
        for i in range(3):
            blob = bytes([i]) * (1024 * 1024)
            response = httpx.put(
                f"{server.url}/f/{hashlib.sha256(blob).hexdigest()}", content=blob, timeout=30
            )
            assert response.status_code in (201, 503), response.text
            if response.status_code == 503:
                assert "disk" in response.json()["message"]
        # Fill what is left so SQLite itself runs out of room.
        filler = tiny_disk / "filler"
        try:
            with filler.open("wb") as handle:
                while True:
                    handle.write(b"\0" * 4096)
                    handle.flush()
        except OSError:
            pass
        refused = 0
        for i in range(200):
            response = httpx.post(
                f"{server.url}/q/full", json={"definition": {"image": "a", "command": f"e {i}"}}
            )
            assert response.status_code in (200, 503), response.text
            if response.status_code == 200:
                accepted.append(response.json()["jobId"])
            else:
                refused += 1
                body = response.json()
                assert body["error"] == "backend_unavailable" and "disk" in body["message"]
        assert refused > 0, "the disk never filled"
        filler.unlink()
        after = httpx.post(f"{server.url}/q/full", json={"definition": {"image": "a", "command": "after"}})
        assert after.status_code == 200, after.text
        listed = httpx.get(f"{server.url}/q/full", params={"limit": 1000}).json()["data"]
        assert set(accepted) | {after.json()["jobId"]} <= set(listed)
    finally:
        server.stop()
    with sqlite3.connect(tiny_disk / "data" / "asman.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
