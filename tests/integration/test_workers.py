"""Real workers running real containers through a real server: the issue's acceptance cases."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import httpx
import pytest

from asman.core.names import blob_upload_headers
from tests.support.server import free_port, run_of
from tests.support.stack import Stack

pytestmark = [pytest.mark.docker, pytest.mark.all_backends]


def outputs(stack: Stack, job_id: str, name: str) -> bytes:
    response = httpx.get(f"{stack.url}/q/{stack.queue}/j/{job_id}/outputs/{name}", follow_redirects=True)
    response.raise_for_status()
    return response.content


def test_outputs_inline_and_uploaded_then_served_from_cache(stack: Stack) -> None:
    command = (
        "sh -c 'echo hi > /outputs/a.txt; mkdir -p /outputs/d; seq 1 2000 > /outputs/d/big.txt; echo done'"
    )
    job_id = stack.submit({"image": stack.image, "command": command})
    job = stack.wait_finished(job_id)
    result = run_of(job)
    assert job["finishedReason"] == "Success" and result["StatusCode"] == 0
    assert result["outputs"]["a.txt"] == {"type": "base64", "value": "aGkK"}
    big = result["outputs"]["d/big.txt"]
    expected = "".join(f"{i}\n" for i in range(1, 2001)).encode()
    assert big["type"] == "url" and big["hash"] == hashlib.sha256(expected).hexdigest()
    assert outputs(stack, job_id, "a.txt") == b"hi\n"
    assert outputs(stack, job_id, "d/big.txt") == expected
    assert ["done\n", pytest.approx(0, abs=10**13), False] in [
        [line[0], line[1], line[2]] for line in result["logs"]
    ]

    # The same job again: the stored result at once, no container.
    client = docker.DockerClient(base_url=stack.docker_host)
    time.sleep(1.1)  # event timestamps have one-second resolution: leave the first run's events behind
    since = int(time.time())
    again = httpx.post(
        f"{stack.url}/q/{stack.queue}", json={"definition": {"image": stack.image, "command": command}}
    )
    assert again.json()["state"] == "Finished" and again.json()["finishedReason"] == "Success"
    time.sleep(1.1)
    events = client.events(
        since=since, until=int(time.time()), filters={"type": "container", "event": "create"}, decode=True
    )
    assert list(events) == []
    assert stack.job(job_id)["attempt"] == 1


def test_non_zero_exit_is_success_with_its_status_code(stack: Stack) -> None:
    job_id = stack.submit({"image": stack.image, "command": "sh -c 'echo bad >&2; exit 3'"})
    job = stack.wait_finished(job_id)
    result = run_of(job)
    assert job["finishedReason"] == "Success" and result["StatusCode"] == 3
    assert [line[0] for line in result["logs"] if line[2]] == ["bad\n"]


def test_a_missing_image_is_an_error_that_says_so(stack: Stack) -> None:
    job_id = stack.submit({"image": "asman/does-not-exist:1", "command": "true"})
    job = stack.wait_finished(job_id)
    assert job["finishedReason"] == "Error"
    assert "asman/does-not-exist:1" in run_of(job)["error"]


def test_timeout_finishes_timed_out(stack: Stack) -> None:
    job_id = stack.submit({"image": stack.image, "command": "sleep 30", "maxDuration": "2s"})
    job = stack.wait_finished(job_id, timeout=30)
    assert job["finishedReason"] == "TimedOut" and run_of(job)["isTimedOut"] is True


def test_cancel_while_running_stops_the_container(stack: Stack) -> None:
    job_id = stack.submit({"image": stack.image, "command": "sh -c 'echo started; sleep 60'"})
    stack.wait_state(job_id, "Running")
    deadline = time.monotonic() + 20
    while not httpx.get(f"{stack.url}/q/{stack.queue}/j/{job_id}/run-logs.json").json()["data"]:
        assert time.monotonic() < deadline, "the job never logged"
        time.sleep(0.1)
    httpx.post(f"{stack.url}/q/{stack.queue}/j/{job_id}/cancel").raise_for_status()
    assert stack.job(job_id)["finishedReason"] == "Cancelled"
    client = docker.DockerClient(base_url=stack.docker_host)
    deadline = time.monotonic() + 15
    # sparse: no inspect per listed container, which may be removed between the listing and the inspect. Only
    # this job's container: other tests' workers, killed, may leave theirs on the shared engine.
    while client.containers.list(all=True, sparse=True, filters={"name": f"asman-{job_id[:24]}"}):
        assert time.monotonic() < deadline, "the cancelled container is still there"
        time.sleep(0.2)
    # The worker is free again and takes the next job.
    follow_up = stack.submit({"image": stack.image, "command": "echo next"})
    assert stack.wait_finished(follow_up)["finishedReason"] == "Success"


def test_two_workers_never_run_a_job_twice(bare_stack: Stack) -> None:
    bare_stack.add_worker("--cpus", "2")
    bare_stack.add_worker("--cpus", "2")
    client = docker.DockerClient(base_url=bare_stack.docker_host)
    since = int(time.time())
    ids = [
        bare_stack.submit({"image": bare_stack.image, "command": f"sh -c 'echo {i} > /outputs/n'"})
        for i in range(12)
    ]
    jobs = [bare_stack.wait_finished(job_id, timeout=120) for job_id in ids]
    odd = [job for job in jobs if job["finishedReason"] != "Success" or job["attempt"] != 1]
    assert not odd, [
        {key: job.get(key) for key in ("jobId", "finishedReason", "attempt", "worker", "results")}
        for job in odd
    ]
    assert {job["results"]["worker"] for job in jobs} <= {w.worker_id for w in bare_stack.workers}  # type: ignore[index]
    time.sleep(1.1)
    created = client.events(
        since=since, until=int(time.time()), filters={"type": "container", "event": "create"}, decode=True
    )
    assert len(list(created)) == len(ids)


def test_kill_9_of_a_worker_mid_job_is_retried_by_another(bare_stack: Stack) -> None:
    doomed = bare_stack.add_worker(worker_id="doomed")
    job_id = bare_stack.submit(
        {"image": bare_stack.image, "command": "sh -c 'sleep 4; echo survived > /outputs/r'"}
    )
    running = bare_stack.wait_state(job_id, "Running")
    assert running["worker"] == "doomed"
    doomed.stop(signal.SIGKILL)
    bare_stack.add_worker(worker_id="rescuer")
    job = bare_stack.wait_finished(job_id, timeout=60)
    assert job["finishedReason"] == "Success"
    assert job["attempt"] == 2 and job["results"]["worker"] == "rescuer"  # type: ignore[index]


def test_sigterm_lets_the_running_job_finish(bare_stack: Stack) -> None:
    worker = bare_stack.add_worker("--grace-period", "20s")
    job_id = bare_stack.submit({"image": bare_stack.image, "command": "sh -c 'sleep 2; echo finished'"})
    bare_stack.wait_state(job_id, "Running")
    worker.stop(signal.SIGTERM, wait=30)
    assert worker.process.returncode == 0, worker.log()
    # The worker leaves once its result is sent; the server records it a moment later (results are batched).
    job = bare_stack.wait_finished(job_id, timeout=10)
    assert job["finishedReason"] == "Success", job


def test_sigterm_hands_back_jobs_that_outlive_the_grace_period(bare_stack: Stack) -> None:
    worker = bare_stack.add_worker("--grace-period", "1s")
    job_id = bare_stack.submit({"image": bare_stack.image, "command": "sleep 60"})
    bare_stack.wait_state(job_id, "Running")
    worker.stop(signal.SIGTERM, wait=30)
    job = bare_stack.job(job_id)
    assert job["state"] == "Queued", job
    bare_stack.add_worker()
    bare_stack.wait_state(job_id, "Running")


def test_dockerfile_build_with_build_args(stack: Stack) -> None:
    dockerfile = f'FROM {stack.image}\nARG GREETING=unset\nRUN echo "$GREETING" > /greeting\n'
    job_id = stack.submit(
        {
            "build": {"dockerfile": dockerfile, "buildArgs": ["GREETING=hello-build"]},
            "command": "cat /greeting",
        }
    )
    job = stack.wait_finished(job_id, timeout=120)
    assert job["finishedReason"] == "Success", job
    assert [line[0] for line in run_of(job)["logs"]][-1] == "hello-build\n"


def test_the_container_is_hardened(stack: Stack) -> None:
    command = (
        "sh -c 'id -u; touch /inputs/x 2>/dev/null && echo writable || echo readonly; cat /inputs/in.txt'"
    )
    job_id = stack.submit(
        {"image": stack.image, "command": command, "inputs": {"in.txt": {"type": "utf8", "value": "input!"}}}
    )
    job = stack.wait_finished(job_id)
    lines = [line[0] for line in run_of(job)["logs"] if not line[2]]
    # Each line as written: `cat` of a file without a final newline ends the output without one.
    assert lines[:3] == [lines[0], "readonly\n", "input!"] and lines[0] != "0\n", job


def test_local_mode_runs_server_and_worker_in_one_process(
    tmp_path: Path, docker_host: str, test_image: str
) -> None:
    port = free_port()
    env = {"DOCKER_HOST": docker_host, "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "asman.cli",
            "worker",
            "--mode",
            "local",
            "--port",
            str(port),
            "--data-directory",
            str(tmp_path / "local"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                if httpx.get(f"{url}/q/local/status").json()["workers"]:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.2)
        definition = {"image": test_image, "command": "sh -c 'echo hi > /outputs/a.txt'"}
        job_id = httpx.post(f"{url}/q/local", json={"definition": definition}).json()["jobId"]
        deadline = time.monotonic() + 60
        while (job := httpx.get(f"{url}/q/local/j/{job_id}").json()["data"])["state"] != "Finished":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert job["finishedReason"] == "Success"
        assert httpx.get(f"{url}/q/local/j/{job_id}/outputs/a.txt").content == b"hi\n"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def test_inputs_from_internal_addresses_are_refused(stack: Stack) -> None:
    port = free_port()
    job_id = stack.submit(
        {
            "image": stack.image,
            "command": "cat /inputs/secret",
            "inputs": {"secret": {"type": "url", "value": f"http://127.0.0.1:{port}/admin"}},
        }
    )
    job = stack.wait_finished(job_id)
    assert job["finishedReason"] == "Error"
    assert "internal address" in run_of(job)["error"]


def test_inputs_from_the_queue_server_itself_are_fetched(stack: Stack) -> None:
    data = b"large input " * 100
    key = hashlib.sha256(data).hexdigest()
    stored = httpx.put(
        f"{stack.url}/f/{key}", content=data, headers=blob_upload_headers(key), follow_redirects=True
    )
    stored.raise_for_status()
    job_id = stack.submit(
        {
            "image": stack.image,
            "command": "cat /inputs/big.txt",
            "inputs": {"big.txt": {"type": "url", "value": f"{stack.url}/f/{key}", "hash": key}},
        }
    )
    job = stack.wait_finished(job_id)
    assert job["finishedReason"] == "Success"
    assert "".join(line[0] for line in run_of(job)["logs"]).startswith("large input")
