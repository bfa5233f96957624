"""POST /q/{queue}/batch through the real app in-process, on SQLite + files and on PostgreSQL + S3: answers in
order, a bad entry failing alone, the same jobs and events as single submits, the documented limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from asman.core.definition import job_id
from asman.core.events import Event, StateChanged
from asman.settings import Settings
from tests.support.server import in_process

pytestmark = pytest.mark.all_backends

NDJSON = {"content-type": "application/x-ndjson"}


def job(n: int) -> dict[str, Any]:
    return {"image": "alpine:3.19.1", "command": f"echo {n}"}


async def test_a_batch_answers_each_submission_in_order(app_client: httpx.AsyncClient) -> None:
    single = (await app_client.post("/q/demo", json={"definition": job(0)})).json()
    body = [
        {"definition": job(0)},  # already queued by the single submit: joined
        job(1),  # a bare definition, as a single submit takes it
        {"definition": {"command": "no image"}},
        {"definition": job(2), "control": {"namespace": "tab"}},
        "not an object",
        {"definition": job(1)},  # a repeat within the batch
        {"definition": job(3), "id": "0" * 64},
    ]
    response = await app_client.post("/q/demo/batch", json=body)
    assert response.status_code == 200, response.text
    answers = response.json()
    assert answers[0] == single
    assert answers[1] == answers[5] == {"success": True, "jobId": job_id(job(1)), "state": "Queued"}
    assert answers[3]["jobId"] == job_id(job(2))
    assert answers[2] == {
        "success": False,
        "status": 422,
        "error": "validation_failed",
        "message": answers[2]["message"],
    }
    assert "image" in answers[2]["message"]
    assert (answers[4]["status"], answers[4]["error"]) == (400, "invalid_input")
    assert (answers[6]["status"], "does not match" in answers[6]["message"]) == (400, True)
    listing = (await app_client.get("/q/demo")).json()["data"]
    assert set(listing) == {job_id(job(n)) for n in range(3)}
    assert listing[job_id(job(2))]["namespaces"] == ["tab"]
    again = (await app_client.post("/q/demo/batch", json=body)).json()
    assert [a.get("jobId") for a in again] == [a.get("jobId") for a in answers]


async def test_ndjson_lines_are_submissions_and_a_broken_line_fails_alone(
    app_client: httpx.AsyncClient,
) -> None:
    lines = b"\n".join([orjson.dumps(job(1)), b"{broken", b"", orjson.dumps({"definition": job(2)}), b""])
    answers = (await app_client.post("/q/demo/batch", content=lines, headers=NDJSON)).json()
    assert [a["success"] for a in answers] == [True, False, True]
    assert answers[1]["status"] == 400 and "line 2" in answers[1]["message"]
    assert answers[2]["jobId"] == job_id(job(2))
    assert (await app_client.post("/q/demo/batch", content=b"", headers=NDJSON)).json() == []


async def test_every_new_job_is_published_once_as_a_single_submit_would(
    app_client: httpx.AsyncClient,
) -> None:
    seen: list[Event] = []
    app_client.app.state.service.notifier.subscribe(seen.append, "sweep")  # type: ignore[attr-defined]
    body = [{"definition": job(n % 50)} for n in range(120)]
    answers = (await app_client.post("/q/sweep/batch", json=body)).json()
    assert [a["jobId"] for a in answers] == [job_id(job(n % 50)) for n in range(120)]
    changes = [event for event in seen if isinstance(event, StateChanged)]
    assert [(c.job_id, c.state.value) for c in changes] == [(job_id(job(n)), "Queued") for n in range(50)]


async def test_the_whole_request_fails_only_when_it_cannot_be_read(app_client: httpx.AsyncClient) -> None:
    for content, status in ((b"{}", 400), (b"[1,", 400), (b'{"definition": {}}', 400)):
        response = await app_client.post(
            "/q/demo/batch", content=content, headers={"content-type": "application/json"}
        )
        assert response.status_code == status, response.text
        assert set(response.json()) == {"error", "message"}
    response = await app_client.post("/q/bad%20name/batch", json=[job(1)])
    assert response.status_code in (400, 404)


async def test_the_limits_are_the_settings(tmp_path: Path) -> None:
    limited = Settings(data_dir=tmp_path, max_batch_jobs=3, max_batch_bytes=2000)
    async with in_process(limited) as client:
        assert (await client.post("/q/demo/batch", json=[job(n) for n in range(3)])).status_code == 200
        over = await client.post("/q/demo/batch", json=[job(n) for n in range(4)])
        assert over.status_code == 413 and "limit of 3" in over.json()["message"]
        big = await client.post("/q/demo/batch", json=[{**job(1), "env": {"X": "x" * 3000}}])
        assert big.status_code == 413
        assert (await client.get("/q/demo")).json()["data"].keys() == {job_id(job(n)) for n in range(3)}
