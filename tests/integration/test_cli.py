"""`asman job` and `asman queue` against a real server (a fake worker where a job must finish), and with real
containers (docker): the acceptance command of the issue, and every ```sh block of docs/cli.md."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner, Result

from asman.cli import _output, _watch
from asman.cli.main import app
from asman.client import JobResult
from asman.core.states import FinishedReason
from tests.support.fake_worker import FakeWorker
from tests.support.server import ServerProcess, free_port
from tests.support.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "asman/busybox:latest"
ASMAN = str(Path(sys.executable).parent / "asman")


def run(server: ServerProcess | str, *args: str, stdin: str | None = None) -> Result:
    url = server if isinstance(server, str) else server.url
    return CliRunner().invoke(app, list(args), input=stdin, env={"API_SERVER_ADDRESS": url, "COLUMNS": "200"})


def added_view(server: ServerProcess, queue: str, *args: str, stdin: str | None = None) -> dict[str, Any]:
    """`asman job add QUEUE ARGS...`, then the job as `asman job get` shows it."""
    added = run(server, "job", "add", queue, *args, stdin=stdin)
    assert added.exit_code == 0, added.output
    view: dict[str, Any] = json.loads(run(server, "job", "get", queue, added.stdout.strip()).stdout)
    return view


@contextmanager
def in_thread(server: ServerProcess, *args: str) -> Iterator[dict[str, Result]]:
    """Run a CLI command in a thread while the test plays the worker."""
    outcome: dict[str, Result] = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("result", run(server, *args)), daemon=True)
    thread.start()
    yield outcome
    thread.join(60)
    assert not thread.is_alive()


async def play_worker(
    server: ServerProcess, queue: str, result: dict[str, Any], lines: tuple[tuple[str, bool], ...] = ()
) -> None:
    worker = FakeWorker(server.url, queue, "fake-1")
    await worker.connect()
    try:
        assigned = await worker.receive_type("assign", timeout=20)
        job_id, attempt = assigned["jobId"], assigned["attempt"]
        logs = [[text, 1, stderr] for text, stderr in lines]
        for line in logs:
            await asyncio.sleep(0.05)
            await worker.send(
                {"type": "log", "jobId": job_id, "attempt": attempt, "step": "run", "logs": [line]}
            )
        await worker.send(
            {
                "type": "finished",
                "jobId": job_id,
                "attempt": attempt,
                "result": {"reason": "Success", "StatusCode": 0, "logs": logs, "outputs": {}, **result},
            }
        )
        await asyncio.sleep(0.2)
    finally:
        await worker.close()


def test_add_prints_the_job_id_and_the_other_commands_find_it(live_server: ServerProcess) -> None:
    added = run(
        live_server,
        "job",
        "add",
        "q1",
        "--image",
        IMAGE,
        "-c",
        "echo hi",
        "-e",
        "A=1",
        "-e",
        "B=x=y",
        "--cpus",
        "0.5",
        "--memory",
        "64m",
        "--gpus",
        "0",
        "--max-duration",
        "1m",
        "--entrypoint",
        "sh",
        "--workdir",
        "/tmp",
    )
    assert added.exit_code == 0, added.output
    job_id = added.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", job_id)
    assert "queued in queue q1" in added.stderr and f"/q/q1/j/{job_id}" in added.stderr

    definition = json.loads(run(live_server, "job", "get", "q1", job_id).stdout)["definition"]
    assert definition == {
        "image": IMAGE,
        "command": "echo hi",
        "entrypoint": "sh",
        "workdir": "/tmp",
        "maxDuration": "1m",
        "env": {"A": "1", "B": "x=y"},
        "requirements": {"cpus": 0.5, "memory": "64m", "gpus": 0},
    }

    for target in (["q1", job_id], ["q1", job_id[:8]], [f"{live_server.url}/q/q1/j/{job_id}"]):
        status = run(live_server, "job", "status", *target)
        assert status.exit_code == 0, status.output
        assert re.search(r"state\s+Queued", status.stdout)
    listed = run(live_server, "job", "list", "q1")
    assert job_id[:12] in listed.stdout and "Queued" in listed.stdout
    assert [job["jobId"] for job in json.loads(run(live_server, "job", "list", "q1", "--json").stdout)] == [
        job_id
    ]
    assert json.loads(run(live_server, "job", "status", "q1", job_id, "--json").stdout)["state"] == "Queued"

    logs = run(live_server, "job", "logs", "q1", job_id)
    assert (logs.exit_code, logs.stdout) == (0, "")
    assert "no logs yet" in logs.stderr

    cancelled = run(live_server, "job", "cancel", "q1", job_id)
    assert cancelled.exit_code == 0 and "Cancelled job" in cancelled.stderr
    waited = run(live_server, "job", "wait", "q1", job_id)
    assert waited.exit_code == _output.EXIT_CANCELLED
    assert "was cancelled" in waited.stderr
    outputs = run(live_server, "job", "outputs", "q1", job_id, "--json")
    assert json.loads(outputs.stdout) == {"jobId": job_id, "saved": []}
    deleted = run(live_server, "job", "delete", "q1", job_id, "--json")
    assert json.loads(deleted.stdout)["deleted"] is True


def test_build_options_make_the_definitions_build(live_server: ServerProcess, tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch\nARG A\n")
    stdin = json.dumps({"definition": {"image": "replaced-by-the-build", "build": {"target": "t"}}})
    view = added_view(
        live_server,
        "qb",
        "-",
        "--git",
        "https://github.com/octocat/Hello-World",
        "--dockerfile",
        str(dockerfile),
        "--build-arg",
        "A=1",
        "--build-arg",
        "B=x=y",
        "--namespace",
        "ns1",
        "-c",
        "ls",
        stdin=stdin,
    )
    assert view["namespaces"] == ["ns1"]
    assert view["definition"] == {
        "command": "ls",
        "build": {
            "target": "t",
            "context": "https://github.com/octocat/Hello-World",
            "dockerfile": "FROM scratch\nARG A\n",
            "buildArgs": ["A=1", "B=x=y"],
        },
    }
    short = run(live_server, "job", "add", "qb", "-r", "https://example.com/ctx.tar.gz", "--json")
    assert json.loads(short.stdout)["state"] == "Queued"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", IMAGE, "--git", "https://example.com/c.tgz"], "not both"),
        (["-m", IMAGE, "--build-arg", "A=1"], "needs something to build"),
        (["--git", "https://example.com/c.tgz", "--build-arg", "NOEQUALS"], "is not KEY=VALUE"),
        (["--dockerfile", "missing-Dockerfile"], "cannot read missing-Dockerfile"),
    ],
)
def test_bad_build_options_are_usage_errors(
    live_server: ServerProcess, args: list[str], message: str
) -> None:
    result = run(live_server, "job", "add", "qb2", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stdout == ""


async def test_await_is_wait(live_server: ServerProcess) -> None:
    job_id = run(live_server, "job", "add", "qa", "-m", IMAGE, "-c", "talk").stdout.strip()
    with in_thread(live_server, "job", "await", "qa", job_id, "--logs", "--json") as outcome:
        await play_worker(live_server, "qa", {"StatusCode": 4}, (("awaited", False),))
    result = outcome["result"]
    assert result.exit_code == 4, result.output
    assert json.loads(result.stdout)["exitCode"] == 4 and "awaited" in result.stderr


async def test_add_rerun_runs_a_job_that_already_succeeded(live_server: ServerProcess) -> None:
    args = ("job", "add", "qr", "-m", IMAGE, "-c", "echo once", "--json")
    first = json.loads(run(live_server, *args).stdout)
    with in_thread(live_server, "job", "wait", "qr", first["jobId"]) as outcome:
        await play_worker(live_server, "qr", {})
    assert outcome["result"].exit_code == 0, outcome["result"].output
    kept = json.loads(run(live_server, *args).stdout)
    assert (kept["jobId"], kept["state"], kept["finishedReason"]) == (first["jobId"], "Finished", "Success")
    again = json.loads(run(live_server, *args, "--rerun").stdout)
    assert (again["jobId"], again["state"], again["finishedReason"]) == (first["jobId"], "Queued", None)


def test_json_output_is_machine_readable(live_server: ServerProcess) -> None:
    added = run(live_server, "job", "add", "q2", "-m", IMAGE, "-c", "echo json", "--json")
    data = json.loads(added.stdout)
    assert data["state"] == "Queued" and data["url"].endswith(f"/q/q2/j/{data['jobId']}")
    canceled = json.loads(run(live_server, "job", "cancel", "q2", data["jobId"], "--json").stdout)
    assert canceled["finishedReason"] == "Cancelled"


def test_a_definition_on_stdin_and_files(
    live_server: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder" / "sub").mkdir(parents=True)
    (tmp_path / "folder" / "sub" / "big.txt").write_text("b" * 500)
    (tmp_path / "small.txt").write_text("s")
    stdin = json.dumps(
        {"definition": {"image": "from-stdin", "command": "ls"}, "control": {"namespace": "n1"}}
    )
    view = added_view(
        live_server, "q3", "-", "-f", "folder", "--file", "small.txt", "-c", "ls -R", stdin=stdin
    )
    assert view["namespaces"] == ["n1"]
    assert view["definition"]["image"] == "from-stdin" and view["definition"]["command"] == "ls -R"
    assert view["definition"]["inputs"]["small.txt"] == {"type": "utf8", "value": "s"}
    assert view["definition"]["inputs"]["folder/sub/big.txt"]["type"] == "url"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["-m", IMAGE, "-f", "missing.txt"], None, "no such file or folder: missing.txt"),
        (["-c", "echo no image"], None, "needs an image"),
        (["-"], "not json", "is not JSON"),
        (["-"], "[1]", "must be a JSON object"),
        (["-m", IMAGE, "--cpus", "-1"], None, "requirements.cpus"),
    ],
)
def test_bad_jobs_are_one_clear_line(
    live_server: ServerProcess, args: list[str], stdin: str | None, message: str
) -> None:
    result = run(live_server, "job", "add", "q4", *args, stdin=stdin)
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output
    assert result.stdout == ""


def test_usage_errors_exit_2(live_server: ServerProcess) -> None:
    assert run(live_server, "job", "add", "q", "-m", IMAGE, "-e", "NOEQUALS").exit_code == 2
    assert run(live_server, "job", "status", "q").exit_code == 2
    assert run(live_server, "job", "status", "q", "zz").exit_code == 1  # not an id: one clear error line


def test_unknown_jobs_and_unreachable_servers(live_server: ServerProcess) -> None:
    unknown = run(live_server, "job", "status", "q", "0" * 64)
    assert unknown.exit_code == 1 and "no job 0000" in unknown.stderr
    prefix = run(live_server, "job", "status", "q", "abcdef")
    assert prefix.exit_code == 1 and "no job whose id starts with abcdef" in prefix.stderr
    url = f"http://127.0.0.1:{free_port()}"
    for args in (["job", "list", "q"], ["job", "add", "q", "-m", IMAGE], ["queue", "status", "q"]):
        result = run(url, *args, "--api", url)
        assert result.exit_code == 1
        assert f"cannot reach the Asman server at {url}" in result.stderr
        assert "make run" in result.stderr and "asman worker --mode local" in result.stderr
        assert "Traceback" not in result.output


def test_wait_timeout_exits_124(live_server: ServerProcess) -> None:
    job_id = run(live_server, "job", "add", "q5", "-m", IMAGE, "-c", "never").stdout.strip()
    waited = run(live_server, "job", "wait", "q5", job_id, "--timeout", "1")
    assert waited.exit_code == _output.EXIT_TIMED_OUT
    assert "did not finish within 1 s" in waited.stderr
    assert "No worker is connected to queue 'q5'" in waited.stderr


async def test_add_wait_streams_logs_and_exits_with_the_job_code(
    live_server: ServerProcess, tmp_path: Path
) -> None:
    with in_thread(
        live_server, "job", "add", "q6", "-m", IMAGE, "-c", "talk", "--wait", "-o", str(tmp_path / "out")
    ) as outcome:
        await play_worker(
            live_server,
            "q6",
            {"StatusCode": 7, "outputs": {"a/b.txt": {"type": "utf8", "value": "output!"}}},
            (("to stdout\n", False), ("to stderr\n", True)),
        )
    result = outcome["result"]
    assert result.exit_code == 7, result.output
    assert result.stdout == "to stdout\n"
    assert "to stderr" in result.stderr and "exited with code 7" in result.stderr
    assert "Saved 1 output(s)" in result.stderr
    assert (tmp_path / "out" / "a" / "b.txt").read_text() == "output!"


async def test_add_wait_json_keeps_stdout_for_the_result(live_server: ServerProcess) -> None:
    with in_thread(live_server, "job", "add", "q7", "-m", IMAGE, "-c", "talk", "--wait", "--json") as outcome:
        await play_worker(live_server, "q7", {}, (("a log line\n", False),))
    result = outcome["result"]
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert (data["finishedReason"], data["exitCode"], data["worker"]) == ("Success", 0, "fake-1")
    assert "a log line" in result.stderr


def exit_with_the_number(definition: dict[str, Any]) -> dict[str, Any]:
    """`echo N`, as a fake worker runs it: N on stdout, and N as the exit code."""
    number = definition["command"].rsplit(" ", 1)[1]
    return {"StatusCode": int(number), "logs": [[number + "\n", 1, False]]}


async def test_a_matrix_sweep_waits_with_one_bar_and_sums_up(live_server: ServerProcess) -> None:
    worker = FakeWorker(live_server.url, "sweep", "fake-sweep", slots=50)
    await worker.connect()
    serving = asyncio.create_task(worker.finish_every_assignment(exit_with_the_number))
    try:
        args = ["job", "add", "sweep", "-m", IMAGE, "-c", "echo {A}{B}", "--matrix", "A=1,2", "--matrix"]
        result = await asyncio.to_thread(run, live_server, *args, "B=0,3", "--wait")
        assert result.exit_code == 1, result.output  # the jobs exit with their number: 10, 13, 20, 23
        table = result.stdout
        assert [line.split("│")[1:4] for line in table.splitlines() if line.startswith("│")] == [
            [" 1 ", " 1 ", " 0 "],
            [" 2 ", " 1 ", " 3 "],
            [" 3 ", " 2 ", " 0 "],
            [" 4 ", " 2 ", " 3 "],
        ]
        assert "exit code 23" in table
        assert "4 jobs finished in" in result.stderr and "exit code 10: 1" in result.stderr
        ok = await asyncio.to_thread(
            run,
            live_server,
            "job",
            "add",
            "sweep",
            "-m",
            IMAGE,
            "-c",
            "echo {N}",
            "--matrix",
            "N=0,200",
            "--wait",
        )
        assert ok.exit_code == 1 and "succeeded: 1" in ok.stderr  # exit 200 is not 0
        lines = (
            '{"command": "echo 0"}\n\n{"definition": {"command": "echo 0"}, "control": {"namespace": "x"}}\n'
        )
        listed = await asyncio.to_thread(
            run, live_server, "job", "add", "sweep", "-m", IMAGE, "--from-file", "-", "--json", stdin=lines
        )
        assert listed.exit_code == 0, listed.output
        entries = json.loads(listed.stdout)
        assert len(entries) == 2 and entries[0]["jobId"] == entries[1]["jobId"]
        assert entries[0]["url"].endswith(f"/q/sweep/j/{entries[0]['jobId']}") and "matrix" not in entries[0]
    finally:
        serving.cancel()
        await worker.close()


def test_sweep_usage_errors(live_server: ServerProcess, tmp_path: Path) -> None:
    bad = run(live_server, "job", "add", "q", "-m", IMAGE, "-c", "echo {K}", "--matrix", "K=a,,b")
    assert bad.exit_code == 2 and "none empty" in bad.output
    mixed = run(live_server, "job", "add", "q", "-m", IMAGE, "--matrix", "K=a", "--file", "README.md")
    assert mixed.exit_code == 2 and "--file" in mixed.output
    both = run(live_server, "job", "add", "q", "-", "-m", IMAGE, "--from-file", "-", stdin="{}")
    assert both.exit_code == 2 and "not both" in both.output
    (tmp_path / "jobs.ndjson").write_text('{"command": "echo 1"}\nnot json\n')
    broken = run(live_server, "job", "add", "q", "-m", IMAGE, "--from-file", str(tmp_path / "jobs.ndjson"))
    assert broken.exit_code == 1 and "line 2" in broken.stderr


async def test_logs_keep_stdout_and_stderr_apart(live_server: ServerProcess) -> None:
    job_id = run(live_server, "job", "add", "q8", "-m", IMAGE, "-c", "talk").stdout.strip()
    with in_thread(live_server, "job", "logs", "q8", job_id, "-f") as outcome:
        await play_worker(live_server, "q8", {}, (("out 1\n", False), ("err 1\n", True), ("out 2\n", False)))
    followed = outcome["result"]
    assert (followed.exit_code, followed.stdout, followed.stderr) == (0, "out 1\nout 2\n", "err 1\n")
    lines = [
        json.loads(line)
        for line in run(live_server, "job", "logs", "q8", job_id, "--json").stdout.splitlines()
    ]
    assert [(line["text"], line["stderr"]) for line in lines] == [
        ("out 1", False),
        ("err 1", True),
        ("out 2", False),
    ]
    waited = run(live_server, "job", "wait", "q8", job_id, "--json")
    assert waited.exit_code == 0 and json.loads(waited.stdout)["finishedReason"] == "Success"


async def test_an_infrastructure_error_exits_125(live_server: ServerProcess) -> None:
    with in_thread(live_server, "job", "add", "q9", "-m", "nope:1", "-w") as outcome:
        await play_worker(
            live_server,
            "q9",
            {"reason": "Error", "StatusCode": None, "error": "image nope:1 could not be pulled"},
        )
    result = outcome["result"]
    assert result.exit_code == _output.EXIT_NOT_RUN
    assert "failed" in result.stderr and "image nope:1 could not be pulled" in result.stderr


@pytest.mark.parametrize(
    ("reason", "code", "expected"),
    [
        ("Success", 0, 0),
        ("Success", 3, 3),
        ("Success", 300, 1),
        ("TimedOut", None, 124),
        ("Error", None, 125),
        ("WorkerLost", None, 125),
        ("Cancelled", None, 130),
        ("Deleted", None, 130),
        ("JobReplacedByClient", None, 130),
    ],
)
def test_exit_codes(reason: str, code: int | None, expected: int) -> None:
    assert _watch.exit_code(JobResult("j", FinishedReason(reason), exit_code=code)) == expected


def test_queue_commands(live_server: ServerProcess) -> None:
    new = run(live_server, "queue", "new")
    assert new.exit_code == 0 and re.fullmatch(r"[A-Za-z0-9_-]{22}\n", new.stdout)
    assert "asman worker" in new.stderr
    assert json.loads(run(live_server, "queue", "new", "--json").stdout)["url"].startswith(live_server.url)
    run(live_server, "job", "add", "qs", "-m", IMAGE)
    status = run(live_server, "queue", "status", "qs")
    assert "1 queued" in status.stdout and "No worker connected" in status.stdout
    assert json.loads(run(live_server, "queue", "status", "qs", "--json").stdout)["counts"] == {"Queued": 1}
    assert 'queue_length{queue="qs"} 1.0' in run(live_server, "queue", "metrics", "qs").stdout
    assert (
        json.loads(run(live_server, "queue", "metrics", "qs", "--json").stdout)['queue_length{queue="qs"}']
        == 1
    )


def test_every_command_and_option_is_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    root: Any = typer.main.get_command(app)  # typer's own click group
    for group_name in ("job", "queue"):
        group = root.commands[group_name]
        for name, command in group.commands.items():
            assert f"asman {group_name} {name}" in text, name
            for param in command.params:
                for flag in param.opts:
                    if flag.startswith("--") and flag != "--help":
                        assert re.search(re.escape(flag) + r"(?![\w-])", text), (name, flag)


# -- real containers ------------------------------------------------------------------------------------------


@pytest.mark.docker
def test_the_acceptance_command(stack: Stack, tmp_path: Path) -> None:
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    env = {**os.environ, "API_SERVER_ADDRESS": stack.url}
    command = [
        ASMAN,
        "job",
        "add",
        stack.queue,
        "--image",
        stack.image,
        "--file",
        "README.md",
        "-c",
        'sh -c "cat /inputs/README.md > /outputs/readme-copied.md; echo copied"',
        "--wait",
        "--outputs",
        "out/",
    ]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "copied\n"
    assert "succeeded" in done.stderr and "Saved 1 output(s) to out: readme-copied.md" in done.stderr
    assert (tmp_path / "out" / "readme-copied.md").read_bytes() == (tmp_path / "README.md").read_bytes()

    failing = [
        ASMAN,
        "job",
        "add",
        stack.queue,
        "-m",
        stack.image,
        "-c",
        "sh -c 'echo out; echo err >&2; exit 3'",
        "--wait",
    ]
    done = subprocess.run(
        failing, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert (done.returncode, done.stdout) == (3, "out\n")
    assert "err\n" in done.stderr


def sh_blocks(path: Path) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", path.read_text(), flags=re.S | re.M)


@pytest.mark.docker
def test_the_cli_docs_run(bare_stack: Stack, tmp_path: Path) -> None:
    """Every ```sh block of docs/cli.md runs with bash -e against a worker on the queue `local`."""
    bare_stack.queue = "local"
    bare_stack.add_worker()
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    env = {
        **os.environ,
        "ASMAN_API_URL": bare_stack.url,
        "PATH": f"{Path(ASMAN).parent}:{os.environ['PATH']}",
    }
    blocks = sh_blocks(ROOT / "docs" / "cli.md")
    assert len(blocks) >= 5
    for number, block in enumerate(blocks, 1):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, (
            f"docs/cli.md sh block {number} failed:\n{block}\n{done.stdout}\n{done.stderr}"
        )
        assert "Traceback" not in done.stderr
    assert (tmp_path / "out" / "readme-copied.md").read_bytes() == (tmp_path / "README.md").read_bytes()
