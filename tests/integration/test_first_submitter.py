"""Fields outside the job id are not first come, first served (issue 17): whoever submits an id first cannot
make the job fail, or run otherwise, for everyone after. A DataRef `hash` that does not check out and the
parent-injected env keys (`mp_*`, `channel`...) never reach the worker; a hash that checks out does."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx

from asman.core.definition import job_id
from tests.support.fake_worker import FakeWorker
from tests.support.server import Served

CONTENT = b"the real input"
SHA = hashlib.sha256(CONTENT).hexdigest()


def definition(url: str, **extra: Any) -> dict[str, Any]:
    inline = {"type": "base64", "value": base64.b64encode(CONTENT).decode()}
    remote = {"type": "url", "value": f"{url}/f/{SHA}"}
    return {
        "image": "alpine:3.19.1",
        "command": "cat /inputs/a /inputs/b /inputs/c",
        "env": {"FOO": "bar", **extra.pop("env", {})},
        "inputs": {
            "a": {**inline, **extra.pop("a", {})},
            "b": {**remote, **extra.pop("b", {})},
            "c": {"type": "url", "value": "https://example.com/data.csv", **extra.pop("c", {})},
        },
    }


async def test_a_bogus_hash_or_parent_env_submitted_first_never_reaches_the_worker(served: Served) -> None:
    bogus = "0" * 64
    poisoned = definition(
        served.url,
        env={"mp_page": "evil", "channel": "x"},
        a={"hash": bogus},
        b={"hash": bogus},
        c={"hash": bogus},
    )
    real = definition(served.url, a={"hash": SHA}, b={"hash": SHA})
    assert job_id(poisoned) == job_id(real)  # the id does not cover these fields
    async with httpx.AsyncClient(base_url=served.url) as client:
        first = await client.post("/q/first", json={"definition": poisoned})
        assert first.status_code == 200
        jid = first.json()["jobId"]
        worker = FakeWorker(served.url, "first", "w1")
        await worker.connect()
        try:
            assignment = await worker.receive_type("assign")
            run = assignment["definition"]
            assert run["env"] == {"FOO": "bar"}
            assert all("hash" not in ref for ref in run["inputs"].values())
            await worker.finish(jid, assignment["attempt"], reason="Error")
            await served.wait_finished("first", jid)
            # The real submitter's resubmit runs the job again, with nothing the first submitter added.
            assert (await client.post("/q/first", json={"definition": real})).json()["state"] == "Queued"
            again = (await worker.receive_type("assign"))["definition"]
            assert again["env"] == {"FOO": "bar"} and all("hash" not in r for r in again["inputs"].values())
        finally:
            await worker.close()
        stored = (await client.get(f"/j/{jid}/definition.json")).json()["data"]
        assert "mp_page" not in stored["env"] and "hash" not in stored["inputs"]["a"]

        # A hash that checks out is kept, so the worker can verify what it fetched.
        fresh = definition(served.url, a={"hash": SHA}, b={"hash": SHA}, c={"hash": bogus})
        fresh["command"] = "cat /inputs/a"
        await client.post("/q/second", json={"definition": fresh})
        worker = FakeWorker(served.url, "second", "w2")
        await worker.connect()
        try:
            kept = (await worker.receive_type("assign"))["definition"]["inputs"]
        finally:
            await worker.close()
        assert (kept["a"]["hash"], kept["b"]["hash"]) == (SHA, SHA) and "hash" not in kept["c"]
