"""Build this folder's Dockerfile on a worker, run it on measurements.csv, and fetch the summaries.

    python docs/examples/python-data/run.py      (with `make run` going, or API_SERVER_ADDRESS set)

The build context is a tar of the files the Dockerfile copies, stored in the server's blob store: the worker
downloads it from there, so this works with a worker on any machine that reaches the server.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import httpx

from asman import Client

HERE = Path(__file__).resolve().parent
API = os.environ.get("API_SERVER_ADDRESS", "http://127.0.0.1:8000")
PYTHON_IMAGE = os.environ.get("PYTHON_IMAGE", "python:3.12-slim")


def build_context(*names: str) -> bytes:
    """A tar of the named files. No owners or times in it: the same files always give the same bytes, so the
    same context URL and the same job id, and a second run is answered from the stored result."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in names:
            data = (HERE / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def upload(data: bytes) -> str:
    """PUT the bytes to /f/<sha256> and return the URL a worker fetches them from."""
    key = hashlib.sha256(data).hexdigest()
    checksum = base64.b64encode(bytes.fromhex(key)).decode()  # lets an S3 store check the bytes itself
    answer = httpx.put(
        f"{API}/f/{key}",
        content=data,
        headers={"x-amz-checksum-sha256": checksum},
        follow_redirects=True,
        timeout=60,
    )
    answer.raise_for_status()
    return f"{API}/f/{key}"


context = upload(build_context("Dockerfile", "summarise.py"))
queue = Client(API).queue("local")
job = queue.submit(
    definition={"build": {"context": context, "buildArgs": [f"BASE={PYTHON_IMAGE}"]}},
    files=[HERE / "measurements.csv"],
    max_duration="5m",
)
print(f"job {job.id[:12]}: build the image, then summarise measurements.csv")
result = job.wait()
print(result.stdout, end="")
saved = job.download("out")
print("saved", ", ".join(sorted(path.name for path in saved)))
summary = json.loads(Path("out/summary.json").read_text())
wettest = max(summary, key=lambda station: summary[station]["rain_mm"])
print(f"wettest station: {wettest} ({summary[wettest]['rain_mm']} mm)")
