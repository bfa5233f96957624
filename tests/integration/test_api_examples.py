"""docs/api.md shows each wire shape with an example taken from a real run: this test makes that run (a real
server, a protocol-level worker) and checks every example against what the server really answered, key by key.
`ASMAN_WRITE_EXAMPLES=1 pytest tests/integration/test_api_examples.py` writes the run's answers into the doc.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx

from asman.core import protocol
from tests.support.fake_worker import FakeWorker
from tests.support.server import Served, sse_events

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
EXAMPLE = re.compile(r"<!-- example: (?P<name>[\w-]+) -->\n```json\n(?P<body>.*?)\n```", re.S)


def shape(value: Any) -> Any:
    """What must match between an example and a real answer: the keys at every level, and the types."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


async def real_answers(served: Served) -> dict[str, Any]:
    definition = {"image": "alpine:3.19.1", "command": "sh -c 'echo hello; echo done > /outputs/a.txt'"}
    answers: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as http:
        submitted = await http.post(
            "/q/demo", json={"definition": definition, "control": {"namespace": "tab-1"}}
        )
        answers["submit"] = submitted.json()
        job = answers["submit"]["jobId"]
        worker = FakeWorker(served.url, "demo", "worker-1")
        await worker.connect()
        await worker.receive_type(protocol.ASSIGN)
        answers["listing"] = (await http.get("/q/demo")).json()
        answers["status"] = (await http.get("/q/demo/status")).json()
        async with http.stream("GET", f"/q/demo/j/{job}/stream") as stream:
            events = sse_events(stream)
            seen: dict[str, Any] = {}
            first = await anext(events)
            seen[first[0]] = first[1]
            await worker.send(
                {
                    "type": protocol.LOG,
                    "jobId": job,
                    "attempt": 1,
                    "step": "run",
                    "logs": [["hello\n", 1, False]],
                }
            )
            await worker.send(
                {
                    "type": protocol.FINISHED,
                    "jobId": job,
                    "attempt": 1,
                    "result": {
                        "reason": "Success",
                        "StatusCode": 0,
                        "duration": 412,
                        "logs": [["hello\n", 1, False]],
                        "outputs": {"a.txt": {"type": "base64", "value": "ZG9uZQo="}},
                        "isTimedOut": False,
                    },
                }
            )
            async for name, data in events:
                seen.setdefault(f"sse-{name}", data)
                if name == "final":
                    break
        answers.update({name: data for name, data in seen.items() if name.startswith("sse-")})
        answers["sse-state"] = first[1]
        answers["job"] = (await http.get(f"/q/demo/j/{job}")).json()
        answers["result"] = (await http.get(f"/q/demo/j/{job}/result.json")).json()
        answers["run-logs"] = (await http.get(f"/j/{job}/run-logs.json")).json()
        answers["namespaces"] = (await http.get(f"/q/demo/j/{job}/namespaces.json")).json()
        await worker.close()
    return answers


async def test_every_example_in_api_md_is_the_shape_a_real_run_answers(served: Served) -> None:
    answers = await real_answers(served)
    text = DOC.read_text()
    if os.environ.get("ASMAN_WRITE_EXAMPLES"):
        text = EXAMPLE.sub(
            lambda m: (
                f"<!-- example: {m['name']} -->\n```json\n{json.dumps(answers[m['name']], indent=2)}\n```"
            ),
            text,
        )
        DOC.write_text(text)
    examples = {match["name"]: json.loads(match["body"]) for match in EXAMPLE.finditer(text)}
    assert set(examples) == set(answers), "docs/api.md needs one example per shape this test makes"
    for name, example in examples.items():
        assert shape(example) == shape(answers[name]), f"the {name} example in docs/api.md is out of date"
