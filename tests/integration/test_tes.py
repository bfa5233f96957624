"""GA4GH TES through py-tes against a real local-mode Asman (server and worker in one process) and real containers."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
import tes

from tests.support.server import free_port
from tests.support.services import S3Server

SECOND_IMAGE = "asman/tes-second:latest"
DONE = ("COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED")


@pytest.fixture(scope="module")
def tes_url(
    docker_host: str, test_image: str, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A local-mode Asman: its TES API at /ga4gh/tes/v1 serves the queue `local`; its worker's S3 service is
    the test SeaweedFS (the AWS variables are in os.environ), and it may fetch inputs from 127.0.0.1."""
    engine = docker.DockerClient(base_url=docker_host)
    engine.images.get(test_image).tag(*SECOND_IMAGE.split(":"))
    engine.close()
    root = tmp_path_factory.mktemp("tes")
    port = free_port()
    log_path = root / "local.log"
    args = [sys.executable, "-m", "asman.cli", "worker", "--mode", "local", "--port", str(port)]
    args += ["--data-directory", str(root / "data"), "--network", "none", "--cpus", "2"]
    args += ["--s3-endpoint", s3_server.endpoint, "--allow-private-urls"]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            args, env={**os.environ, "DOCKER_HOST": docker_host}, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/q/local/status", timeout=2).json()["workers"]:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"local mode did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture
def client(tes_url: str) -> tes.HTTPClient:
    return tes.HTTPClient(tes_url, timeout=10)


def _wait(
    client: tes.HTTPClient, task_id: str, states: tuple[str, ...] = DONE, timeout: float = 60
) -> tes.Task:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = client.get_task(task_id, view="FULL")
        if task.state in states:
            return task
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} never reached {states}: {client.get_task(task_id, 'FULL')}")


def _echo(name: str, text: str, tags: dict[str, str]) -> tes.Task:
    return tes.Task(
        name=name,
        tags=tags,
        executors=[tes.Executor(image="asman/busybox:latest", command=["echo", text])],
    )


def test_service_info_and_views(client: tes.HTTPClient) -> None:
    info = client.get_service_info()
    assert info.type["artifact"] == "tes"
    task_id = client.create_task(_echo("views-1", "hello tes", {"k": "v"}))
    again = client.create_task(_echo("views-1", "hello tes", {"k": "v"}))
    assert again != task_id  # every POST is a fresh run
    done = _wait(client, task_id)
    assert done.state == "COMPLETE"
    assert done.logs[0].logs[0].exit_code == 0
    assert done.logs[0].logs[0].stdout == "hello tes\n"
    minimal = client.get_task(task_id, view="MINIMAL")
    assert (minimal.id, minimal.state, minimal.name) == (task_id, "COMPLETE", None)
    basic = client.get_task(task_id, view="BASIC")
    assert basic.name == "views-1" and basic.executors[0].command == ["echo", "hello tes"]
    assert basic.logs[0].logs[0].stdout is None
    assert basic.creation_time


def test_list_filters_and_pages(client: tes.HTTPClient, tes_url: str) -> None:
    ids = [
        client.create_task(_echo(f"list-{index}", str(index), {"group": "g", f"n{index}": ""}))
        for index in range(3)
    ]
    failing = tes.Task(
        name="list-fail",
        tags={"group": "g"},
        executors=[tes.Executor(image="asman/busybox:latest", command=["sh", "-c", "exit 3"])],
    )
    ids.append(client.create_task(failing))
    for task_id in ids:
        _wait(client, task_id)

    def listed(**params: str | list[str]) -> list[str]:
        response = httpx.get(f"{tes_url}/ga4gh/tes/v1/tasks", params=params, timeout=10)
        response.raise_for_status()
        return [task.id for task in tes.utils.unmarshal(response.json(), tes.ListTasksResponse).tasks]

    assert set(listed(name_prefix="list-")) == set(ids)
    assert listed(name_prefix="list-", state="EXECUTOR_ERROR") == [ids[3]]
    assert set(listed(tag_key="group", tag_value="g")) == set(ids)
    assert listed(tag_key=["group", "n1"]) == [ids[1]]
    assert listed(tag_key="group", tag_value="nope") == []
    # Exact pages, newest first, and every task once.
    seen: list[str] = []
    token: str | None = None
    while True:
        page = client.list_tasks(view="BASIC", page_size=1, page_token=token)
        assert len(page.tasks) <= 1
        seen += [task.id for task in page.tasks]
        token = page.next_page_token
        if not token:
            break
    assert [task_id for task_id in seen if task_id in ids] == ids[::-1]


def test_two_executors_share_a_volume_inputs_and_outputs(client: tes.HTTPClient, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("from the host\n")
    result = tmp_path / "results" / "out.txt"
    task = tes.Task(
        name="pipeline",
        volumes=["/shared"],
        inputs=[
            tes.Input(path="/data/inline.txt", content="inline content\n"),
            tes.Input(path="/data/host.txt", url=f"file://{source}"),
        ],
        outputs=[
            tes.Output(path="/shared/out.txt", url=f"file://{result}"),
            tes.Output(path="/logs/step1.txt", url=f"file://{tmp_path / 'step1.txt'}"),
        ],
        executors=[
            tes.Executor(
                image="asman/busybox:latest",
                command=["sh", "-c", "cat /data/inline.txt /data/host.txt > /shared/mid.txt; id -u"],
                stdout="/logs/step1.txt",
            ),
            tes.Executor(
                image=SECOND_IMAGE,
                command=["sh", "-c", "pwd; tr a-z A-Z < /shared/mid.txt > /shared/out.txt; echo $GREETING"],
                workdir="/work/here",
                env={"GREETING": "hi"},
            ),
        ],
    )
    done = _wait(client, client.create_task(task))
    assert done.state == "COMPLETE", done
    assert result.read_text() == "INLINE CONTENT\nFROM THE HOST\n"
    assert (tmp_path / "step1.txt").read_text() == "1000\n"  # the worker's non-root user
    assert [log.exit_code for log in done.logs[0].logs] == [0, 0]
    assert done.logs[0].logs[1].stdout == "/work/here\nhi\n"
    assert {output.path for output in done.logs[0].outputs} == {"/shared/out.txt", "/logs/step1.txt"}


def test_exit_codes_and_missing_images(client: tes.HTTPClient) -> None:
    failing = tes.Task(executors=[tes.Executor(image="asman/busybox:latest", command=["sh", "-c", "exit 3"])])
    done = _wait(client, client.create_task(failing))
    assert done.state == "EXECUTOR_ERROR"
    assert done.logs[0].logs[0].exit_code == 3
    ignored = tes.Task(
        executors=[
            tes.Executor(image="asman/busybox:latest", command=["sh", "-c", "exit 3"], ignore_error=True),
            tes.Executor(image="asman/busybox:latest", command=["echo", "after"]),
        ]
    )
    done = _wait(client, client.create_task(ignored))
    assert done.state == "COMPLETE"
    assert [log.exit_code for log in done.logs[0].logs] == [3, 0]
    # A program the image does not have fails like a shell's: exit 127, an executor error (and ignorable).
    absent = tes.Executor(image="asman/busybox:latest", command=["ERROR"])
    done = _wait(
        client,
        client.create_task(
            tes.Task(executors=[absent, tes.Executor(image="asman/busybox:latest", command=["true"])])
        ),
    )
    assert done.state == "EXECUTOR_ERROR"
    assert [log.exit_code for log in done.logs[0].logs] == [127]
    assert "ERROR" in done.logs[0].logs[0].stderr
    absent.ignore_error = True
    done = _wait(
        client,
        client.create_task(
            tes.Task(
                executors=[absent, tes.Executor(image="asman/busybox:latest", command=["echo", "hello"])]
            )
        ),
    )
    assert done.state == "COMPLETE"
    assert [log.exit_code for log in done.logs[0].logs] == [127, 0]
    missing = tes.Task(executors=[tes.Executor(image="asman/no-such-image:1", command=["true"])])
    done = _wait(client, client.create_task(missing))
    assert done.state == "SYSTEM_ERROR"
    assert "no-such-image" in done.logs[0].system_logs[0]


def test_cancel_a_long_task(client: tes.HTTPClient) -> None:
    task_id = client.create_task(
        tes.Task(executors=[tes.Executor(image="asman/busybox:latest", command=["sleep", "300"])])
    )
    _wait(client, task_id, ("RUNNING",))
    client.cancel_task(task_id)
    seen: list[str] = []
    deadline = time.monotonic() + 20
    while not seen or seen[-1] != "CANCELED":
        assert time.monotonic() < deadline, seen
        seen.append(client.get_task(task_id).state)
    # CANCELING (the container is being stopped) may be too brief to see; it never follows CANCELED.
    assert set(seen) <= {"CANCELING", "CANCELED"} and seen[-1] == "CANCELED"
    assert client.get_task(task_id, view="FULL").state == "CANCELED"


def test_strict_backend_parameters(client: tes.HTTPClient, tes_url: str) -> None:
    body = {
        "executors": [{"image": "asman/busybox:latest", "command": ["true"]}],
        "resources": {"backend_parameters": {"bogus": "1"}, "backend_parameters_strict": True},
    }
    response = httpx.post(f"{tes_url}/q/local/ga4gh/tes/v1/tasks", json=body, timeout=10)
    assert response.status_code == 400
    assert "bogus" in response.json()["message"]


SNAKEFILE = """
rule all:
    input: "result.txt"

rule sort_lines:
    input: "data/input.txt"
    output: "work/sorted.txt"
    shell: "sort {input} > {output}"

rule count_lines:
    input: "work/sorted.txt"
    output: "result.txt"
    shell: "(wc -l < {input}; head -n 1 {input}) > {output}"
"""


def test_a_snakemake_workflow_runs_through_tes(
    tes_url: str, snakemake_venv: Path, snakemake_image: str, tmp_path: Path
) -> None:
    """Snakemake 7.32's own TES executor: two rules, each a task, the files going through file:// URLs."""
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "input.txt").write_text("pear\napple\nfig\n")
    args = [str(snakemake_venv), "--tes", tes_url, "--container-image", snakemake_image, "--jobs", "2"]
    done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-6000:]
    assert (tmp_path / "work" / "sorted.txt").read_text() == "apple\nfig\npear\n"
    assert (tmp_path / "result.txt").read_text().split() == ["3", "apple"]


def test_s3_inputs_and_outputs(client: tes.HTTPClient, s3_server: S3Server) -> None:
    """s3:// through the worker's S3 settings: a file and a folder in, a file and a folder out."""
    bucket = s3_server.create_bucket()
    s3 = s3_server.client()
    try:
        s3.put_object(Bucket=bucket, Key="in/one.txt", Body=b"one\n")
        s3.put_object(Bucket=bucket, Key="refs/a.txt", Body=b"a\n")
        s3.put_object(Bucket=bucket, Key="refs/deep/b.txt", Body=b"b\n")
        task = tes.Task(
            inputs=[
                tes.Input(path="/data/one.txt", url=f"s3://{bucket}/in/one.txt"),
                tes.Input(path="/refs", url=f"s3://{bucket}/refs", type="DIRECTORY"),
            ],
            outputs=[
                tes.Output(path="/out/all.txt", url=f"s3://{bucket}/results/all.txt"),
                tes.Output(path="/out/parts", url=f"s3://{bucket}/results/parts", type="DIRECTORY"),
            ],
            executors=[
                tes.Executor(
                    image="asman/busybox:latest",
                    command=[
                        "sh",
                        "-c",
                        "cat /data/one.txt /refs/a.txt /refs/deep/b.txt > /out/all.txt;"
                        " mkdir -p /out/parts/x; echo p > /out/parts/x/p.txt",
                    ],
                )
            ],
        )
        done = _wait(client, client.create_task(task))
        assert done.state == "COMPLETE", done
        body = s3.get_object(Bucket=bucket, Key="results/all.txt")["Body"].read()
        assert body == b"one\na\nb\n"
        assert s3.get_object(Bucket=bucket, Key="results/parts/x/p.txt")["Body"].read() == b"p\n"
        sent = {(output.url, output.size_bytes) for output in done.logs[0].outputs}
        assert sent == {
            (f"s3://{bucket}/results/all.txt", 8),
            (f"s3://{bucket}/results/parts/x/p.txt", 2),
        }
        missing = tes.Task(
            inputs=[tes.Input(path="/data/nope.txt", url=f"s3://{bucket}/no/such.txt")],
            executors=[tes.Executor(image="asman/busybox:latest", command=["true"])],
        )
        failed = _wait(client, client.create_task(missing))
        assert failed.state == "SYSTEM_ERROR"
        assert "no/such.txt" in failed.logs[0].system_logs[0]
    finally:
        s3.close()
        s3_server.drop_bucket(bucket)


def test_initializing_until_the_first_executor_starts(client: tes.HTTPClient, tes_url: str) -> None:
    """INITIALIZING while an input downloads (served slowly here), RUNNING once the first executor starts."""
    release = threading.Event()

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            release.wait(30)
            self.send_response(200)
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"in\n")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, name="slow-input", daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/input.txt"
        task = tes.Task(
            inputs=[tes.Input(path="/data/in.txt", url=url)],
            executors=[
                tes.Executor(image="asman/busybox:latest", command=["sh", "-c", "cat /data/in.txt; sleep 2"])
            ],
        )
        task_id = client.create_task(task)
        assert _wait(client, task_id, ("INITIALIZING",)).state == "INITIALIZING"
        listed = httpx.get(f"{tes_url}/ga4gh/tes/v1/tasks", params={"state": "INITIALIZING"}, timeout=10)
        assert task_id in [item["id"] for item in listed.json()["tasks"]]
        release.set()
        assert _wait(client, task_id, ("RUNNING", *DONE)).state == "RUNNING"
        done = _wait(client, task_id)
        assert done.state == "COMPLETE" and done.logs[0].logs[0].stdout == "in\n"
    finally:
        release.set()
        server.shutdown()
        server.server_close()
