"""One attempt of a GA4GH TES task: stage inputs -> run each executor in order -> upload outputs -> report.

The task's executors share one folder tree on the host: every folder the task names (its volumes, the folders of
its inputs and outputs, executors' workdirs and stdio files) is mounted read-write at its own path in every
executor, so what one executor writes the next one reads. Folders and files are made writable by anyone, as the
containers run as the worker's non-root user.

Outcomes follow TES: an executor that exits non-zero (and may not ignore it) ends the task as a `Success` with that
`StatusCode` (EXECUTOR_ERROR); anything that keeps the task from running or its outputs from being delivered is an
`Error` (SYSTEM_ERROR) whose message becomes a system log. The per-executor logs travel in the result's `tes` field.

The run log tells the server where the task is: a line before each executor (the first makes an INITIALIZING
task RUNNING), and after a cancel a last line once the containers are gone (until then it is CANCELING).
Files move by URL scheme: inline content, http(s), s3:// (the worker's S3 service, `tes_s3`), file:// in local
mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import shutil
import threading
import time
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from asman.core.definition import DataRef, JobDefinition
from asman.core.errors import AsmanError
from asman.core.protocol import STEP_RUN, JobResult
from asman.core.states import FinishedReason
from asman.core.urls import check_fetchable
from asman.tes.mapping import EXECUTOR_NOTE, STOPPED_NOTE, TES_FIELD, rfc3339, stored_task
from asman.tes.models import (
    FileType,
    TesExecutor,
    TesExecutorLog,
    TesInput,
    TesOutput,
    TesOutputFileLog,
    TesTask,
    TesTaskLog,
)
from asman.worker import tes_s3
from asman.worker.run import (
    JobContext,
    JobFailed,
    JobIO,
    LogTail,
    RunSettings,
    _Cancelled,
    _limits,
    _remove_work_dir,
    _run_until_cancelled,
    _unless_cancelled,
)
from asman.worker.runtimes.base import ContainerRuntime, ContainerRuntimeError, ContainerSpec, Mount
from asman.worker.tes_s3 import S3Error, s3_client

# How much of each executor's stdout and stderr its TES log keeps.
STDIO_TAIL_BYTES = 64 * 1024
_GLOB_CHARS = frozenset("*?[")


def tes_task(definition: JobDefinition) -> TesTask | None:
    """The TES task a job carries, or None for an ordinary job."""
    return stored_task(definition.model_extra)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _parent(path: str) -> str:
    return str(PurePosixPath(path).parent)


def mount_points(task: TesTask) -> list[str]:
    """The folders to mount, outermost only: a folder inside another is already shared through it."""
    wanted: set[str] = set(task.volumes or [])
    for item in task.inputs or []:
        wanted.add(item.path if item.type is FileType.DIRECTORY else _parent(item.path))
    for output in task.outputs or []:
        if output.path_prefix:
            wanted.add(output.path_prefix.rstrip("/") or "/")
        else:
            wanted.add(output.path if output.type is FileType.DIRECTORY else _parent(output.path))
    for executor in task.executors or []:
        if executor.workdir:
            wanted.add(executor.workdir)
        wanted.update(_parent(path) for path in (executor.stdin, executor.stdout, executor.stderr) if path)
    folders = sorted(str(PurePosixPath(path)) for path in wanted)
    if "/" in folders:
        raise JobFailed(
            "a TES path sits directly under / (or a volume is /): put inputs, outputs and volumes in a folder,"
            " such as /data/file.txt"
        )
    kept: list[str] = []
    for folder in folders:
        if not any(folder.startswith(outer + "/") for outer in kept):
            kept.append(folder)
    return kept


class _Tree:
    """The task's folders on the host: container path /a/b is <root>/a/b."""

    def __init__(self, root: Path, folders: list[str]) -> None:
        self.root = root
        self.folders = folders

    def host(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def mounts(self) -> list[Mount]:
        return [Mount(str(self.host(folder)), folder, False) for folder in self.folders]

    def make(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        for folder in self.folders:
            self.make_dir(self.host(folder))

    def make_dir(self, path: Path) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        current = self.root
        for part in path.relative_to(self.root).parts:
            current = current / part
            current.mkdir(exist_ok=True)
            current.chmod(0o777)


def _local_path(url: str, what: str, settings: RunSettings) -> Path:
    if not settings.local_files:
        raise JobFailed(
            f"{what} {url[:200]}: file:// URLs name files on the worker's own machine, so only a local-mode"
            " worker (asman worker --mode local) takes them; use http(s) URLs or inline content"
        )
    return Path(unquote(urlsplit(url).path))


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def _unsupported(url: str, what: str) -> JobFailed:
    return JobFailed(
        f"{what} {url[:200]}: the {_scheme(url) or 'plain'} scheme is not supported; use s3://, http(s)://"
        " or (local mode) file://"
    )


class _S3:
    """The task's S3 client, opened at the first s3:// URL and closed when the attempt ends."""

    def __init__(self, endpoint: str, stack: contextlib.AsyncExitStack) -> None:
        self._endpoint = endpoint
        self._stack = stack
        self._client: Any = None

    async def client(self) -> Any:
        if self._client is None:
            self._client = await self._stack.enter_async_context(s3_client(self._endpoint))
        return self._client


async def _stage_input(item: TesInput, tree: _Tree, io: JobIO, settings: RunSettings, s3: _S3) -> None:
    target = tree.host(item.path)
    what = f"input {item.path!r}"
    await asyncio.to_thread(tree.make_dir, target.parent)
    # TES: when content is not empty, url is ignored.
    if item.content or item.url is None:
        await asyncio.to_thread(_write_file, target, (item.content or "").encode("utf-8"))
        return
    url = item.url
    scheme = _scheme(url)
    directory = item.type is FileType.DIRECTORY
    if scheme == "s3":
        try:
            await tes_s3.download(await s3.client(), url, target, directory)
        except S3Error as error:
            raise JobFailed(f"{what}: could not download {error.message}") from None
        await asyncio.to_thread(_open_up, target)
    elif scheme == "file":
        source = _local_path(url, what, settings)
        try:
            await asyncio.to_thread(_copy_in, source, target, directory)
        except OSError as error:
            raise JobFailed(f"{what}: could not copy {source}: {error.strerror or error}") from None
    elif scheme in ("http", "https"):
        if directory:
            raise JobFailed(f"{what}: a DIRECTORY input cannot come from an http(s) URL")
        try:
            await _download(io, url, target, settings.max_input_bytes)
        except AsmanError as error:
            raise JobFailed(f"{what}: could not download {url[:200]}: {error.message}") from None
        except Exception as error:
            raise JobFailed(f"{what}: could not download {url[:200]}: {error}") from None
    else:
        raise _unsupported(url, what)


async def _download(io: JobIO, url: str, target: Path, limit: int) -> None:
    """Streamed to disk, so an input costs no memory whatever its size (up to the worker's input cap)."""
    handle = await asyncio.to_thread(target.open, "wb")
    try:
        await io.fetch_to(DataRef(type="url", value=url), handle, limit)
    finally:
        await asyncio.to_thread(handle.close)
    await asyncio.to_thread(target.chmod, 0o666)


def _write_file(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o666)


def _copy_in(source: Path, target: Path, directory: bool) -> None:
    if directory:
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        shutil.copyfile(source, target)
    _open_up(target)


def _open_up(target: Path) -> None:
    """A staged file, or a folder and all in it, writable by the job's user."""
    for path in [target, *(target.rglob("*") if target.is_dir() else [])]:
        path.chmod(0o777 if path.is_dir() else 0o666)


class _StdioFile:
    """An executor's stdout or stderr copied into a file of the task, as its lines arrive (from any thread)."""

    def __init__(self, path: Path | None) -> None:
        self._handle = path.open("ab") if path is not None else None
        if path is not None:
            path.chmod(0o666)
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        if self._handle is not None:
            with self._lock:
                self._handle.write(text.encode("utf-8"))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def _tail_text(tail: LogTail) -> str:
    return "".join(line[0] for line in tail.as_result())


async def _upload(output: TesOutput, tree: _Tree, settings: RunSettings, s3: _S3) -> list[TesOutputFileLog]:
    """Deliver one output (a file, a folder, or a path_prefix glob) to its URL; the files it sent.

    A glob that matches nothing delivers nothing. A FILE or DIRECTORY output the executors did not make (or
    made as the other type) keeps the task from being COMPLETE: it ends as a SYSTEM_ERROR that names it."""
    path = output.path
    if output.path_prefix or _GLOB_CHARS & set(path):
        prefix = (output.path_prefix or _parent(path)).rstrip("/")
        found = sorted(await asyncio.to_thread(glob.glob, str(tree.host(path))))
        pairs = [(Path(match), "/" + Path(match).relative_to(tree.root).as_posix()) for match in found]
        sent: list[TesOutputFileLog] = []
        for host, inside in pairs:
            if host.is_file():
                relative = inside[len(prefix) :].lstrip("/")
                sent.append(await _send(host, output.url.rstrip("/") + "/" + relative, inside, settings, s3))
        return sent
    host = tree.host(path)
    if output.type is FileType.DIRECTORY:
        if host.is_file():
            raise JobFailed(f"output {path!r} is a file, not a folder: give this output type FILE")
        if not host.is_dir():
            raise JobFailed(f"output {path!r}: the task did not make this folder (a DIRECTORY output)")
        files = sorted(item for item in host.rglob("*") if item.is_file() and not item.is_symlink())
        return [
            await _send(
                item,
                output.url.rstrip("/") + "/" + item.relative_to(host).as_posix(),
                f"{path}/{item.relative_to(host).as_posix()}",
                settings,
                s3,
            )
            for item in files
        ]
    if host.is_dir():
        raise JobFailed(f"output {path!r} is a folder, not a file: give this output type DIRECTORY")
    if not host.is_file():
        raise JobFailed(f"output {path!r}: the task did not write this file (a FILE output)")
    return [await _send(host, output.url, path, settings, s3)]


async def _send(host: Path, url: str, inside: str, settings: RunSettings, s3: _S3) -> TesOutputFileLog:
    size = (await asyncio.to_thread(host.stat)).st_size
    scheme = _scheme(url)
    what = f"output {inside!r}"
    if scheme == "s3":
        try:
            await tes_s3.upload(await s3.client(), host, url)
        except S3Error as error:
            raise JobFailed(f"{what}: could not upload to {error.message}") from None
    elif scheme == "file":
        target = _local_path(url, what, settings)
        try:
            await asyncio.to_thread(_copy_out, host, target)
        except OSError as error:
            raise JobFailed(f"{what}: could not write {target}: {error.strerror or error}") from None
    elif scheme in ("http", "https"):
        try:
            await asyncio.to_thread(
                check_fetchable, url, settings.trusted_url_prefixes, settings.allow_private_urls
            )
            data = await asyncio.to_thread(host.read_bytes)
            async with httpx.AsyncClient(timeout=60) as client:
                response = await client.put(url, content=data)
                response.raise_for_status()
        except AsmanError as error:
            raise JobFailed(f"{what}: could not upload to {url[:200]}: {error.message}") from None
        except (httpx.HTTPError, OSError) as error:
            raise JobFailed(f"{what}: could not upload to {url[:200]}: {error}") from None
    else:
        raise _unsupported(url, what)
    return TesOutputFileLog(url=url, path=inside, size_bytes=str(size))


def _copy_out(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


async def run_tes_job(
    job: JobContext, runtime: ContainerRuntime, io: JobIO, *, settings: RunSettings
) -> JobResult:
    """Run one attempt of a TES task and say how it ended. Always removes `job.work_dir`."""
    started = time.monotonic()
    task = tes_task(job.definition)
    assert task is not None and task.executors
    log = TesTaskLog(start_time=rfc3339(_now_ms()))
    tail = LogTail(settings.log_tail_bytes)

    def run_log(text: str, epoch_ms: int, is_stderr: bool) -> None:
        tail.add(text, epoch_ms, is_stderr)
        io.log(STEP_RUN, text, epoch_ms, is_stderr)

    def result(reason: FinishedReason, **fields: Any) -> JobResult:
        log.end_time = rfc3339(_now_ms())
        return JobResult(
            reason=reason,
            logs=tail.as_result(),
            duration=int((time.monotonic() - started) * 1000),
            **fields,
            **{TES_FIELD: log.model_dump(mode="json", exclude_none=True)},
        )

    stack = contextlib.AsyncExitStack()
    s3 = _S3(settings.s3_endpoint, stack)
    try:
        # 1. Check the limits and the disk, lay out the shared folders and stage the inputs; a cancel stops
        #    the downloads.
        limits = _limits(job, settings)
        deadline = limits.pop("timeout_s")
        await asyncio.to_thread(_check_disk, task, job.work_dir)
        tree = _Tree(job.work_dir / "tes", mount_points(task))
        await asyncio.to_thread(tree.make)
        for item in task.inputs or []:
            if job.cancel.is_set():
                raise _Cancelled
            await _unless_cancelled(job.cancel, _stage_input(item, tree, io, settings, s3))

        # 2. Run the executors in order, each in its own image, over the same folders. The line before each
        #    tells the server (and the user) that the task is RUNNING: until the first, it is INITIALIZING.
        status = 0
        for index, executor in enumerate(task.executors):
            if job.cancel.is_set():
                raise _Cancelled
            await _unless_cancelled(job.cancel, runtime.ensure_image(executor.image))
            remaining = None if deadline is None else max(0.001, deadline - (time.monotonic() - started))
            spec = _executor_spec(job, executor, index, tree, settings, limits, remaining)
            note = f"{EXECUTOR_NOTE} {index + 1} of {len(task.executors)}: {executor.image}\n"
            run_log(note, _now_ms(), True)
            executor_log, outcome = await _run_executor(job, runtime, spec, executor, tree, run_log)
            if outcome is not None:
                return result(FinishedReason.ERROR, error=outcome)
            log.logs.append(executor_log)
            if executor_log.exit_code == -1:
                return result(
                    FinishedReason.TIMED_OUT,
                    isTimedOut=True,
                    error=f"the task ran longer than its limit of {deadline:g}s",
                )
            if executor_log.exit_code != 0 and not executor.ignore_error:
                status = executor_log.exit_code
                break

        # 3. Deliver the outputs of a task whose executors all succeeded.
        if status == 0:
            for output in task.outputs or []:
                log.outputs.extend(await _upload(output, tree, settings, s3))
        return result(FinishedReason.SUCCESS, StatusCode=status)
    except _Cancelled:
        # The server shows the task as CANCELING until this line arrives (the containers are gone by now).
        run_log(f"{STOPPED_NOTE}\n", _now_ms(), True)
        return result(FinishedReason.CANCELLED)
    except (JobFailed, ContainerRuntimeError) as error:
        return result(FinishedReason.ERROR, error=error.message)
    finally:
        await stack.aclose()
        await asyncio.to_thread(_remove_work_dir, job.work_dir)


def _check_disk(task: TesTask, work_dir: Path) -> None:
    """A task's `disk_gb` is the room it needs in the worker's data folder, where its files live."""
    wanted = task.resources.disk_gb if task.resources else None
    if not wanted:
        return
    folder = work_dir
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free < wanted * 1e9:
        raise JobFailed(
            f"the task asks for disk_gb {wanted:g} but this worker has {free / 1e9:.1f} GB free in its data folder"
        )


def _executor_spec(
    job: JobContext,
    executor: TesExecutor,
    index: int,
    tree: _Tree,
    settings: RunSettings,
    limits: dict[str, Any],
    timeout_s: float | None,
) -> ContainerSpec:
    command = list(executor.command)
    if executor.stdin:
        # The runtime attaches no stdin: the image's shell redirects it, then runs the command itself.
        command = ["/bin/sh", "-c", 'exec "$@" < "$0"', executor.stdin, *command]
    return ContainerSpec(
        image=executor.image,
        name=f"{settings.container_prefix}{job.job_id[:24]}-{job.attempt}-{index}",
        command=command,
        env=dict(executor.env or {}),
        workdir=executor.workdir or None,
        mounts=tree.mounts(),
        network=settings.network,
        labels={
            "io.asman.job": job.job_id,
            "io.asman.attempt": str(job.attempt),
            "io.asman.executor": str(index),
        },
        user=settings.user,
        pids_limit=settings.pids_limit,
        timeout_s=timeout_s,
        **limits,
    )


async def _run_executor(
    job: JobContext,
    runtime: ContainerRuntime,
    spec: ContainerSpec,
    executor: TesExecutor,
    tree: _Tree,
    run_log: Any,
) -> tuple[TesExecutorLog, str | None]:
    """Run one executor; its log (exit code -1 for a timeout), or the system error that kept it from running."""
    stdout_tail, stderr_tail = LogTail(STDIO_TAIL_BYTES), LogTail(STDIO_TAIL_BYTES)
    files = await asyncio.to_thread(
        lambda: [_StdioFile(tree.host(path) if path else None) for path in (executor.stdout, executor.stderr)]
    )

    def on_log(text: str, epoch_ms: int, is_stderr: bool) -> None:
        (stderr_tail if is_stderr else stdout_tail).add(text, epoch_ms, is_stderr)
        files[is_stderr].write(text)
        run_log(text, epoch_ms, is_stderr)

    start = rfc3339(_now_ms())
    try:
        outcome = await _run_until_cancelled(job, runtime, spec, on_log)
    finally:
        for file in files:
            await asyncio.to_thread(file.close)
    if outcome.cancelled:
        raise _Cancelled
    exit_code = -1 if outcome.timed_out else outcome.exit_code
    executor_log = TesExecutorLog(
        start_time=start,
        end_time=rfc3339(_now_ms()),
        stdout=_tail_text(stdout_tail),
        stderr=_tail_text(stderr_tail),
        exit_code=exit_code if exit_code is not None else -1,
    )
    if exit_code is None:
        code = command_failure(outcome.error or "")
        if code is None:
            return executor_log, outcome.error or f"executor {spec.name} did not run"
        # The image has no such program: the executor's own failure, reported as a shell would.
        executor_log.exit_code, executor_log.stderr = code, f"{outcome.error}\n"
    return executor_log, None


def command_failure(error: str) -> int | None:
    """The shell's exit code (127 not found, 126 not executable) when the engine could not start a container
    because its command is missing from the image or not executable; None for any other failure."""
    if 'exec: "' not in error:
        return None
    if "not found" in error or "no such file or directory" in error:
        return 127
    if "permission denied" in error:
        return 126
    return None
