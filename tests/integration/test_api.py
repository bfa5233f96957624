"""Every REST endpoint and its error paths, through the real app in-process (SQLite + files underneath)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from asman.core.definition import job_id
from asman.core.names import blob_upload_headers
from asman.settings import Settings
from tests.support.server import in_process

pytestmark = pytest.mark.all_backends

VECTOR = {"image": "alpine:3.19.1", "command": "echo hello"}
VECTOR_ID = "0b6397b71c6c72e7845bf1113894f6d9567b8e66800d0803940c5b58ed63a001"


async def submit(
    client: httpx.AsyncClient, queue: str, definition: dict[str, Any], **control: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"definition": definition}
    if control:
        body["control"] = control
    response = await client.post(f"/q/{queue}", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def assert_error(response: httpx.Response, status: int, needle: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message"}
    assert needle.lower() in body["message"].lower()


async def test_health(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/healthz")
    assert response.text == "OK"


async def test_submit_answers_the_spec_job_id_and_lists_it_queued(app_client: httpx.AsyncClient) -> None:
    assert (await submit(app_client, "demo", VECTOR)) == {
        "success": True,
        "jobId": VECTOR_ID,
        "state": "Queued",
    }
    listing = (await app_client.get("/q/demo")).json()
    assert listing["data"][VECTOR_ID]["state"] == "Queued"
    assert listing["data"][VECTOR_ID]["namespaces"] == ["_"]
    alias = (await app_client.get("/q/demo/j")).json()
    assert alias["data"].keys() == listing["data"].keys()


async def test_bare_definition_and_alias_path(app_client: httpx.AsyncClient) -> None:
    response = await app_client.post("/q/demo/j", json=VECTOR)
    assert response.json()["jobId"] == VECTOR_ID


async def test_a_matching_id_is_accepted_and_a_wrong_one_refused(app_client: httpx.AsyncClient) -> None:
    ok = await app_client.post("/q/demo", json={"definition": VECTOR, "id": VECTOR_ID})
    assert ok.json()["jobId"] == VECTOR_ID
    bad = await app_client.post("/q/demo", json={"definition": VECTOR, "id": "f" * 64})
    assert_error(bad, 400, "does not match")


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "malformed JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"hello": 1}', 400, "no job definition"),
        (b'{"definition": {"command": "echo"}}', 422, "image"),
        (b'{"definition": {"image": "x", "env": {"A": 1}}}', 422, "env"),
        (b'{"definition": {"image": "x", "requirements": {"gpus": -1}}}', 422, "gpus"),
        (b'{"definition": {"image": "  "}}', 422, "blank"),
    ],
)
async def test_bad_submissions(app_client: httpx.AsyncClient, body: bytes, status: int, needle: str) -> None:
    response = await app_client.post("/q/demo", content=body, headers={"content-type": "application/json"})
    assert_error(response, status, needle)


async def test_oversized_body_is_413(app_client: httpx.AsyncClient) -> None:
    limit = app_client.app.state.settings.max_body_bytes  # type: ignore[attr-defined]
    big = {"definition": {**VECTOR, "env": {"X": "a" * (limit + 10)}}}
    assert_error(await app_client.post("/q/demo", json=big), 413, "/f/")


async def test_bad_queue_and_unknown_ids(app_client: httpx.AsyncClient) -> None:
    assert_error(await app_client.post("/q/bad%20name", json=VECTOR), 400, "queue name")
    assert_error(await app_client.get(f"/q/demo/j/{'a' * 64}"), 404, "no job")
    assert_error(await app_client.get("/q/demo/j/not-an-id"), 400, "64")
    assert_error(await app_client.get(f"/j/{'a' * 64}"), 404, "no job")
    assert_error(await app_client.post(f"/q/demo/j/{'a' * 64}/cancel"), 404, "no job")
    assert_error(await app_client.get("/nope/nothing/here"), 404, "no such endpoint")


async def test_job_views(app_client: httpx.AsyncClient) -> None:
    await submit(app_client, "demo", VECTOR)
    job = (await app_client.get(f"/q/demo/j/{VECTOR_ID}")).json()["data"]
    assert job["definition"] == VECTOR and "results" not in job and job["state"] == "Queued"
    glob = (await app_client.get(f"/j/{VECTOR_ID}")).json()["data"]
    assert glob["definition"] == VECTOR
    for path in (f"/j/{VECTOR_ID}/definition.json", f"/q/demo/j/{VECTOR_ID}/definition.json"):
        assert (await app_client.get(path)).json() == {"data": VECTOR}
    for path in ("result.json", "results.json"):
        assert (await app_client.get(f"/j/{VECTOR_ID}/{path}")).json() == {"data": None}
        assert (await app_client.get(f"/q/demo/j/{VECTOR_ID}/{path}")).json() == {"data": None}
    assert (await app_client.get(f"/q/demo/j/{VECTOR_ID}/namespaces.json")).json() == {"data": ["_"]}


async def test_inputs_are_served_inline_or_redirected(app_client: httpx.AsyncClient) -> None:
    blob = b"a blob of the server, " * 20
    key = hashlib.sha256(blob).hexdigest()
    assert (await app_client.put(f"/f/{key}", content=blob)).status_code in (200, 201, 307)
    definition = {
        **VECTOR,
        "inputs": {
            "a.txt": {"type": "utf8", "value": "hello"},
            "dir/b.bin": {"type": "base64", "value": "AAEC"},
            "c.json": {"type": "json", "value": {"k": 1}},
            "big.dat": {"type": "url", "value": f"http://asman.test/f/{key}", "hash": key},
            "far.csv": {"type": "url", "value": "https://data.example/far.csv"},
        },
    }
    jid = (await submit(app_client, "demo", definition))["jobId"]
    text = await app_client.get(f"/j/{jid}/inputs/a.txt")
    assert text.text == "hello" and text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.headers["content-disposition"] == "attachment; filename=\"a.txt\"; filename*=UTF-8''a.txt"
    binary = await app_client.get(f"/q/demo/j/{jid}/inputs/dir/b.bin")
    assert binary.content == b"\x00\x01\x02" and 'filename="b.bin"' in binary.headers["content-disposition"]
    assert (await app_client.get(f"/j/{jid}/inputs/c.json")).json() == {"k": 1}
    # A blob of this server, whatever host its URL names: the bytes (filesystem) or a presigned URL (S3).
    served = await app_client.get(f"/j/{jid}/inputs/big.dat")
    if served.status_code == 302:
        assert f"/{key}" in served.headers["location"]
    else:
        assert served.status_code == 200 and served.content == blob
    redirect = await app_client.get(f"/j/{jid}/inputs/far.csv")
    assert redirect.status_code == 302 and redirect.headers["location"] == "https://data.example/far.csv"
    assert_error(await app_client.get(f"/j/{jid}/inputs/missing"), 404)
    assert (await app_client.get(f"/j/{jid}/inputs/..%2F..%2Fetc%2Fpasswd")).status_code in (400, 404)


async def test_dedupe_adds_namespaces(app_client: httpx.AsyncClient) -> None:
    await submit(app_client, "demo", VECTOR)
    await submit(app_client, "demo", VECTOR, namespace="alice")
    await submit(app_client, "demo", VECTOR, namespace="alice")
    assert (await app_client.get(f"/q/demo/j/{VECTOR_ID}/namespaces.json")).json()["data"] == ["_", "alice"]
    assert (await app_client.get("/q/demo/status")).json()["counts"] == {"Queued": 1}


async def test_cancel_by_namespace_only_cancels_when_nobody_wants_it(app_client: httpx.AsyncClient) -> None:
    await submit(app_client, "demo", VECTOR, namespace="alice")
    await submit(app_client, "demo", VECTOR, namespace="bob")
    response = await app_client.post(f"/q/demo/j/{VECTOR_ID}/alice/cancel")
    assert response.json()["state"] == "Queued"
    assert (await app_client.get(f"/q/demo/j/{VECTOR_ID}/namespaces.json")).json()["data"] == ["bob"]
    response = await app_client.post(f"/q/demo/j/{VECTOR_ID}/cancel?namespace=bob")
    assert response.json() | {} == {
        "success": True,
        "jobId": VECTOR_ID,
        "namespace": "bob",
        "state": "Finished",
        "finishedReason": "Cancelled",
    }


async def test_cancel_star_and_cancel_of_a_finished_job_is_a_no_op(app_client: httpx.AsyncClient) -> None:
    await submit(app_client, "demo", VECTOR, namespace="alice")
    await submit(app_client, "demo", VECTOR, namespace="bob")
    first = await app_client.post(f"/q/demo/j/{VECTOR_ID}/*/cancel")
    assert first.json()["finishedReason"] == "Cancelled"
    again = await app_client.post(f"/q/demo/j/{VECTOR_ID}/cancel")
    assert again.status_code == 200 and again.json()["finishedReason"] == "Cancelled"


async def test_resubmitting_a_cancelled_job_queues_it_again(app_client: httpx.AsyncClient) -> None:
    await submit(app_client, "demo", VECTOR)
    await app_client.post(f"/q/demo/j/{VECTOR_ID}/cancel")
    assert (await submit(app_client, "demo", VECTOR))["state"] == "Queued"


async def test_newer_job_replaces_older_in_a_namespace(app_client: httpx.AsyncClient) -> None:
    old = (await submit(app_client, "demo", {**VECTOR, "command": "echo v1"}, namespace="tab1"))["jobId"]
    new = (await submit(app_client, "demo", {**VECTOR, "command": "echo v2"}, namespace="tab1"))["jobId"]
    old_job = (await app_client.get(f"/q/demo/j/{old}")).json()["data"]
    assert old_job["state"] == "Finished" and old_job["finishedReason"] == "JobReplacedByClient"
    assert (await app_client.get(f"/q/demo/j/{new}")).json()["data"]["state"] == "Queued"


async def test_default_namespace_never_replaces(app_client: httpx.AsyncClient) -> None:
    a = (await submit(app_client, "demo", {**VECTOR, "command": "echo a"}))["jobId"]
    await submit(app_client, "demo", {**VECTOR, "command": "echo b"})
    assert (await app_client.get(f"/q/demo/j/{a}")).json()["data"]["state"] == "Queued"


async def test_delete_finishes_as_deleted_and_resubmit_reruns(app_client: httpx.AsyncClient) -> None:
    await submit(app_client, "demo", VECTOR)
    response = await app_client.delete(f"/q/demo/j/{VECTOR_ID}")
    assert response.json() == {"success": True, "jobId": VECTOR_ID}
    job = (await app_client.get(f"/q/demo/j/{VECTOR_ID}")).json()["data"]
    assert job["finishedReason"] == "Deleted"
    assert (await submit(app_client, "demo", VECTOR))["state"] == "Queued"


async def test_copy_to_another_queue(app_client: httpx.AsyncClient) -> None:
    await submit(app_client, "demo", VECTOR)
    response = await app_client.post(f"/j/{VECTOR_ID}/copy", json={"queue": "other"})
    assert response.json()["queue"] == "other" and response.json()["jobId"] == VECTOR_ID
    assert VECTOR_ID in (await app_client.get("/q/other")).json()["data"]
    assert_error(await app_client.post(f"/j/{VECTOR_ID}/copy", json={}), 400, "queue")
    assert_error(await app_client.post(f"/j/{'c' * 64}/copy", json={"queue": "x"}), 404)


async def test_listing_is_paginated_newest_first_and_filters_by_state(app_client: httpx.AsyncClient) -> None:
    ids = [(await submit(app_client, "page", {**VECTOR, "command": f"echo {i}"}))["jobId"] for i in range(7)]
    await app_client.post(f"/q/page/j/{ids[0]}/cancel")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        body = (await app_client.get("/q/page", params=params)).json()
        seen += list(body["data"])
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    finished = (await app_client.get("/q/page", params={"state": "Finished"})).json()["data"]
    assert list(finished) == [ids[0]]
    assert_error(await app_client.get("/q/page", params={"state": "Nope"}), 400, "unknown state")
    assert_error(await app_client.get("/q/page", params={"limit": 0}), 400, "limit")


async def test_status_and_metrics(app_client: httpx.AsyncClient) -> None:
    await submit(app_client, "demo", VECTOR)
    status = (await app_client.get("/q/demo/status")).json()
    assert {key: status[key] for key in ("queue", "counts", "workers", "clients")} == {
        "queue": "demo",
        "counts": {"Queued": 1},
        "workers": [],
        "clients": 0,
    }
    # Upstream's fields, beside Asman's.
    assert status["jobs"] == {VECTOR_ID: {"state": "Queued"}}
    assert (status["localWorkers"], status["otherServers"], status["clientCount"]) == ({}, {}, 0)
    info = status["queueInfo"]
    assert (info["jobCount"], info["localWorkerCount"], info["otherWorkerCount"]) == (1, 0, 0)
    assert info["jobStates"] == [{"id": VECTOR_ID[:6], "state": "Queued", "worker": "none"}]
    assert (await app_client.get("/demo/status")).json() == status
    metrics = (await app_client.get("/q/demo/metrics")).text
    lines = metrics.splitlines()
    assert 'asman_queue_length{queue="demo"} 1.0' in lines
    assert 'queue_length{queue="demo"} 1.0' in lines  # upstream's name, for its autoscalers
    assert 'asman_queue_jobs{queue="demo",state="Queued"} 1.0' in lines
    assert 'asman_queue_workers{queue="demo"} 0.0' in lines
    assert 'asman_job_duration_seconds_count{queue="demo"} 0.0' in lines
    assert (await app_client.get("/demo/metrics")).text == metrics


async def test_replica_metrics_count_requests_by_route_template_and_status(
    app_client: httpx.AsyncClient,
) -> None:
    await submit(app_client, "demo", VECTOR)
    await app_client.get(f"/q/demo/j/{VECTOR_ID}")
    await app_client.get(f"/q/demo/j/{'0' * 64}")
    await app_client.get("/no/such/path/at/all")
    await app_client.request("BREW", "/q/demo")
    response = await app_client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    for expected in (
        'asman_http_requests_total{method="POST",route="/q/{queue}",status="200"} 1.0',
        'asman_http_requests_total{method="GET",route="/q/{queue}/j/{job_id}",status="200"} 1.0',
        'asman_http_requests_total{method="GET",route="/q/{queue}/j/{job_id}",status="404"} 1.0',
        'asman_http_requests_total{method="GET",route="unmatched",status="404"} 1.0',
        'asman_http_requests_total{method="other",route="/q/{queue}",status="405"} 1.0',
        'asman_http_request_duration_seconds_count{method="POST",route="/q/{queue}",status="200"} 1.0',
    ):
        assert expected in lines, expected
    assert any(line.startswith("process_cpu_seconds_total ") for line in lines)
    assert any(line.startswith("python_info{") for line in lines)
    # The scrape itself is counted once it has been answered.
    again = (await app_client.get("/metrics")).text
    assert 'asman_http_requests_total{method="GET",route="/metrics",status="200"} 1.0' in again


async def test_new_private_queue(app_client: httpx.AsyncClient) -> None:
    first = (await app_client.post("/q")).json()
    second = (await app_client.post("/q")).json()
    assert first["queue"] != second["queue"] and len(first["queue"]) >= 22
    assert first["url"].endswith(f"/q/{first['queue']}")


async def put_blob(client: httpx.AsyncClient, key: str, data: bytes) -> httpx.Response:
    """PUT a blob as clients do: through the API, or straight to the object store when it redirects there."""
    response = await client.put(f"/f/{key}", content=data, headers=blob_upload_headers(key))
    if response.status_code == 307:
        async with httpx.AsyncClient() as direct:
            return await direct.put(
                response.headers["location"], content=data, headers=blob_upload_headers(key)
            )
    return response


async def get_blob(client: httpx.AsyncClient, path: str) -> httpx.Response:
    response = await client.get(path)
    if response.status_code == 302:
        async with httpx.AsyncClient() as direct:
            return await direct.get(response.headers["location"])
    return response


async def test_blob_round_trip_and_refusals(app_client: httpx.AsyncClient) -> None:
    data = bytes(range(256)) * 40_000  # ~10 MB
    key = hashlib.sha256(data).hexdigest()
    assert (await app_client.get(f"/f/{key}/exists")).status_code == 404
    assert (await put_blob(app_client, key, data)).status_code in (200, 201)
    exists = await app_client.get(f"/f/{key}/exists")
    assert exists.status_code == 200 and exists.json() == {"exists": True}
    assert (await get_blob(app_client, f"/f/{key}")).content == data
    where = (await app_client.get(f"/download/{key}")).json()  # upstream's deprecated form: {url, ref}
    assert where["ref"] == key
    own = str(app_client.base_url).rstrip("/")
    if where["url"].startswith(own):  # the filesystem store: the blob's own URL here
        assert (await get_blob(app_client, where["url"].removeprefix(own))).content == data
    else:  # S3: a presigned URL
        async with httpx.AsyncClient() as direct:
            assert (await direct.get(where["url"])).content == data
    assert (await put_blob(app_client, key, data)).status_code in (200, 201)
    wrong = await put_blob(app_client, "0" * 64, b"not it")
    assert wrong.status_code in (400, 403), wrong.text
    assert (await app_client.get(f"/f/{'0' * 64}/exists")).status_code == 404
    for hostile in ("..%2F..%2Fetc%2Fpasswd", "%00" * 3, "a" * 64 + "%0A", "a%5Cb", "k" * 256):
        assert (await app_client.get(f"/f/{hostile}")).status_code in (400, 404)
        assert (await app_client.put(f"/f/{hostile}", content=b"x")).status_code in (400, 404, 405)
    assert_error(await app_client.get(f"/f/{'1' * 64}"), 404, "PUT")
    small = b"hi"
    assert (
        await app_client.put(f"/upload/{hashlib.sha256(small).hexdigest()}", content=small)
    ).status_code in (
        201,
        307,
    )


async def test_a_body_that_does_not_hash_to_its_key_is_refused_with_why(tmp_path: Path) -> None:
    async with in_process(Settings(data_dir=tmp_path)) as client:
        assert_error(await client.put(f"/f/{'0' * 64}", content=b"not it"), 400, "hashes to")


async def test_openapi_documents_every_endpoint(app_client: httpx.AsyncClient) -> None:
    schema = (await app_client.get("/openapi.json")).json()
    for path in (
        "/q/{queue}",
        "/q/{queue}/j/{job_id}",
        "/j/{job_id}/copy",
        "/f/{key}",
        "/q/{queue}/metrics",
        "/q/{queue}/j/{job_id}/stream",
        "/q/{queue}/j/{job_id}/{namespace}/cancel",
        "/upload/{key}",
    ):
        assert path in schema["paths"], path
    assert "SubmitBody" in schema["components"]["schemas"]


async def test_logs_json_before_any_run(app_client: httpx.AsyncClient) -> None:
    await submit(app_client, "demo", VECTOR)
    logs = (await app_client.get(f"/q/demo/j/{VECTOR_ID}/run-logs.json")).json()
    assert logs == {"data": [], "sliceStart": 0, "nextCursor": 0, "isFinal": False, "total": 0}


async def test_cors_is_open(app_client: httpx.AsyncClient) -> None:
    response = await app_client.options(
        "/q/demo", headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    )
    assert response.headers["access-control-allow-origin"] in ("*", "https://example.org")


async def test_browsers_get_the_web_client_scripts_get_json(app_client: httpx.AsyncClient) -> None:
    await submit(app_client, "demo", VECTOR)
    html = await app_client.get("/q/demo", headers={"accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html")
    assert (await app_client.get("/q/demo")).headers["content-type"].startswith("application/json")


def test_job_id_helper_matches_server() -> None:
    assert job_id(VECTOR) == VECTOR_ID
