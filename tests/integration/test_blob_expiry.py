"""Blob expiry follows use (issue 17): asking whether a blob exists, putting it again, a job that takes it as an
input and a result that names it as an output each keep it a lifetime from then, so a job never loses its input
and a kept result never links to a swept output. Blobs nobody uses still go. The blobs' ages are set back on
disk; the S3 store's own `touch` is in the blob contract."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

import httpx

from tests.support.fake_worker import FakeWorker
from tests.support.server import Served

DAY_S = 86_400


def blob_path(served: Served, key: str) -> Path:
    return Path(served.app.state.settings.data_dir) / "blobs" / key[:2] / key


async def test_blobs_in_use_outlive_their_age_and_unused_ones_go(served: Served) -> None:
    contents = {name: f"the {name} blob".encode() for name in ("input", "output", "asked", "again", "unused")}
    keys = {name: hashlib.sha256(body).hexdigest() for name, body in contents.items()}
    async with httpx.AsyncClient(base_url=served.url) as client:
        for name, body in contents.items():
            assert (await client.put(f"/f/{keys[name]}", content=body)).status_code == 201
            old = time.time() - 40 * DAY_S  # older than the 30-day lifetime
            os.utime(blob_path(served, keys[name]), (old, old))

        assert (await client.get(f"/f/{keys['asked']}/exists")).json() == {"exists": True}
        again = await client.put(f"/f/{keys['again']}", content=contents["again"])
        assert again.json()["existed"] is True

        worker = FakeWorker(served.url, "expiry", "w1")
        await worker.connect()
        try:
            definition = {
                "image": "alpine:3.19.1",
                "command": "cp /inputs/in /outputs/out",
                "inputs": {"in": {"type": "url", "value": f"{served.url}/f/{keys['input']}"}},
            }
            job_id = (await client.post("/q/expiry", json={"definition": definition})).json()["jobId"]
            assignment = await worker.receive_type("assign")
            outputs = {
                "out": {"type": "url", "value": f"{served.url}/f/{keys['output']}", "hash": keys["output"]}
            }
            await worker.finish(job_id, assignment["attempt"], outputs=outputs)
            await served.wait_finished("expiry", job_id)
            await asyncio.sleep(0.2)  # the result's outputs are kept right after the finish is stored
        finally:
            await worker.close()

        await served.app.state.service.sweep()
        for name in ("input", "output", "asked", "again"):
            assert blob_path(served, keys[name]).is_file(), f"the {name} blob was swept while in use"
        assert not blob_path(served, keys["unused"]).exists()
        output = await client.get(f"/q/expiry/j/{job_id}/outputs/out")
        assert output.status_code == 200 and output.content == contents["output"]
