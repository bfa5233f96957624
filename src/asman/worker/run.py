"""One job attempt, start to finish: stage inputs -> get the image -> run the container -> collect outputs.

`run_job` is a linear sequence that knows nothing of the network: the daemon hands it a `JobContext`, a
`ContainerRuntime` and a `JobIO` (fetching input URLs, uploading outputs, forwarding log lines), and reports the
`JobResult` it returns. The user's container failing is a `Success` with its non-zero `StatusCode`; anything
that stops the container from running or its outputs from being kept (a bad input, an image that cannot be
had, outputs over the cap) is an `Error` whose message tells the user what to change. Only an unreachable
container engine escapes, as `RuntimeUnavailable`: that is the worker's problem more than the job's, so the
daemon reports the attempt as an Error that says so and stops taking jobs until the engine answers again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import shutil
import stat
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar

from asman.core.definition import BuildSpec, DataRef, JobDefinition, canonical_json
from asman.core.errors import AsmanError, InvalidInput
from asman.core.names import safe_relative_path
from asman.core.protocol import STEP_BUILD, STEP_RUN, JobResult
from asman.core.states import FinishedReason
from asman.core.units import parse_duration, parse_size
from asman.worker.fetch import TooLarge
from asman.worker.images import internal_registry, internal_registry_refusal
from asman.worker.network import NO_NETWORK
from asman.worker.runtimes.base import (
    DEFAULT_PIDS_LIMIT,
    DEFAULT_USER,
    BuildOptions,
    BuildTimedOut,
    ContainerRuntime,
    ContainerRuntimeError,
    ContainerSpec,
    LogSink,
    Mount,
    RunOutcome,
)
from asman.worker.runtimes.context import MAX_DOWNLOAD_BYTES, archive_url
from asman.worker.shell import shell_words

T = TypeVar("T")

# Where a job finds its files inside the container, and the env vars that say so.
INPUTS_PATH = "/inputs"
OUTPUTS_PATH = "/outputs"
CACHE_PATH = "/job-cache"
_RESERVED_PATHS = (INPUTS_PATH, OUTPUTS_PATH, CACHE_PATH, "/proc", "/sys", "/dev")
BUILD_TAG_PREFIX = "asman-build/"


class JobIO(Protocol):
    """What a job needs from the outside world; the daemon implements it over HTTP, tests in memory."""

    async def fetch_to(self, ref: DataRef, sink: BinaryIO, limit: int) -> str:
        """Stream the content of a `url` (or `key`) DataRef into `sink`, refusing more than `limit` bytes;
        returns its sha256 hex digest."""
        ...

    async def upload(self, data: bytes) -> str:
        """Store `data` as a blob (PUT /f/<sha256>); returns its key, the sha256 hex digest."""
        ...

    def log(self, step: str, text: str, epoch_ms: int, is_stderr: bool) -> None:
        """Forward one log line; called from any thread, must not block."""
        ...

    def blob_url(self, key: str) -> str:
        """The URL where a blob stored by `upload` can be downloaded."""
        ...


@dataclass
class JobContext:
    """One attempt of one job. `work_dir` belongs to this attempt alone and is removed when it ends."""

    job_id: str
    attempt: int
    definition: JobDefinition
    work_dir: Path
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    # GPU device ids the daemon reserved for this attempt (it owns the worker's GPU pool).
    gpu_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunSettings:
    max_job_duration_s: float | None = None
    inline_output_limit: int = 200
    max_output_bytes: int = 1024**3
    network: str = NO_NETWORK
    # The queue server's base URL, for the JOB_*URL_PREFIX variables; empty leaves them out.
    api_url: str = ""
    user: str = DEFAULT_USER
    pids_limit: int = DEFAULT_PIDS_LIMIT
    # The queue's cache on this worker, mounted read-write at /job-cache; None gives each attempt a throwaway one.
    cache_dir: Path | None = None
    # Container names are <prefix><job id>-<attempt>: give each worker its own prefix, as cleanup goes by it.
    container_prefix: str = "asman-"
    log_tail_bytes: int = 1_000_000
    # For TES's own URL checks. Every fetch goes through the JobIO, which applies the worker's URL policy to each
    # hop (`asman.worker.fetch`); these restate it: internal addresses only if allowed, the server always.
    allow_private_urls: bool = True
    trusted_url_prefixes: tuple[str, ...] = ()
    # file:// TES inputs and outputs are this machine's files: allowed only in local mode.
    local_files: bool = False
    # Caps on what a job may ask for, and what it gets when it asks for nothing (None: no cap, no default).
    default_memory: int | None = None
    max_memory: int | None = None
    default_cpus: float | None = None
    max_shm: int | None = None
    # All of a job's downloaded inputs together (each is streamed to disk, never held in memory).
    max_input_bytes: int = 10 * 1024**3
    max_output_files: int = 10_000
    # An image from a registry at an internal address is refused unless allowed (the engine would fetch it).
    allow_private_registries: bool = False
    # Registries the worker's own registry credentials may be sent to ("*": any); others are pulled anonymously.
    credential_registries: tuple[str, ...] = ()
    # The S3 service of s3:// TES inputs and outputs (an endpoint URL); empty refuses them.
    s3_endpoint: str = ""


class JobFailed(AsmanError):
    """The job cannot run or finish as defined; the message is shown to the user as the result's error."""


class _Cancelled(Exception):
    pass


# -- pure helpers ---------------------------------------------------------------------------------------------


def build_tag(build: BuildSpec) -> str:
    """The image tag of a build: a hash of the spec's known fields, so each distinct build runs once per worker."""
    known = {
        name: value for name, value in build.model_dump(mode="json").items() if name in BuildSpec.model_fields
    }
    spec = {name: value for name, value in known.items() if value is not None}
    return BUILD_TAG_PREFIX + hashlib.sha256(canonical_json(spec).encode("utf-8")).hexdigest()[:32]


def split_command(text: str | None, what: str, env: Mapping[str, str]) -> list[str] | None:
    """A command or entrypoint as the container's arguments, its `$VAR`s taken from the container's `env`."""
    if text is None or not text.strip():
        return None
    try:
        return shell_words(text, env)
    except ValueError as error:
        raise JobFailed(f"{what} {text[:200]!r} cannot be split into arguments: {error}") from None


def job_env(job: JobContext, settings: RunSettings, gpus: list[str] | None) -> dict[str, str]:
    """The container's environment: the definition's, overridden by what the worker sets."""
    env = {
        **(job.definition.env or {}),
        "JOB_ID": job.job_id,
        "JOB_INPUTS": INPUTS_PATH,
        "JOB_OUTPUTS": OUTPUTS_PATH,
        "JOB_CACHE": CACHE_PATH,
    }
    if settings.api_url:
        prefix = f"{settings.api_url.rstrip('/')}/j/{job.job_id}"
        env["JOB_URL_PREFIX"] = prefix
        env["JOB_INPUTS_URL_PREFIX"] = f"{prefix}/inputs/"
        env["JOB_OUTPUTS_URL_PREFIX"] = f"{prefix}/outputs/"
    if gpus:
        # The engine gives the container only its assigned devices, which CUDA numbers from 0 inside it, whatever
        # their ids on the host: host ids (say 1,3) here would hide them.
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(index) for index in range(len(gpus)))
    return env


def absolute_config_path(name: str) -> str:
    """An absolute configFile name, checked: normalized, not `/` and not over the paths the worker mounts."""
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if "\x00" in name or ".." in parts or not parts:
        raise JobFailed(f"configFile {name[:200]!r}: an absolute name must be a plain file path without '..'")
    text = "/" + "/".join(parts)
    for reserved in _RESERVED_PATHS:
        if text == reserved or text.startswith(reserved + "/"):
            raise JobFailed(
                f"configFile {name[:200]!r}: {reserved} is reserved; use a relative name for /inputs"
            )
    return text


def job_duration(definition: JobDefinition, settings: RunSettings) -> float | None:
    """The tightest of the job's maxDuration, its requirements' maxDuration and the worker's cap."""
    limits: list[float] = []
    requirements = definition.requirements
    for text in (definition.maxDuration, requirements.maxDuration if requirements else None):
        if text:
            try:
                limits.append(parse_duration(text))
            except ValueError as error:
                raise JobFailed(f"maxDuration: {error}") from None
    if settings.max_job_duration_s:
        limits.append(settings.max_job_duration_s)
    return min(limits) if limits else None


def _human_size(size: int | None) -> str:
    if size is None:
        return "unknown"
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"


class LogTail:
    """The last `limit` bytes of log lines, for the result; safe to feed from several threads."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._size = 0
        self._lines: deque[tuple[str, int, bool]] = deque()
        self._lock = threading.Lock()

    def add(self, text: str, epoch_ms: int, is_stderr: bool) -> None:
        with self._lock:
            self._lines.append((text, epoch_ms, is_stderr))
            self._size += len(text)
            while self._size > self._limit and len(self._lines) > 1:
                self._size -= len(self._lines.popleft()[0])

    def as_result(self) -> list[list[Any]]:
        with self._lock:
            lines = sorted(self._lines, key=lambda line: line[1])
        return [[text, epoch_ms, is_stderr] for text, epoch_ms, is_stderr in lines]


# -- the sequence ---------------------------------------------------------------------------------------------


async def run_job(
    job: JobContext, runtime: ContainerRuntime, io: JobIO, *, settings: RunSettings
) -> JobResult:
    """Run one attempt of a job and say how it ended. Always removes `job.work_dir`."""
    started = time.monotonic()
    tail = LogTail(settings.log_tail_bytes)

    def run_log(text: str, epoch_ms: int, is_stderr: bool) -> None:
        tail.add(text, epoch_ms, is_stderr)
        io.log(STEP_RUN, text, epoch_ms, is_stderr)

    def note(text: str) -> None:
        """A line from the worker itself, shown with the job's stderr."""
        run_log(f"[asman] {text}\n", int(time.time() * 1000), True)

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    def failed(message: str, status: int | None = None) -> JobResult:
        return JobResult(
            reason=FinishedReason.ERROR,
            error=message,
            StatusCode=status,
            logs=tail.as_result(),
            duration=elapsed_ms(),
        )

    try:
        # 1. Check what the definition asks for before doing any work.
        definition = job.definition
        limits = _limits(job, settings)
        env = job_env(job, settings, limits.get("gpus"))
        command = split_command(definition.command, "command", env)
        entrypoint = split_command(definition.entrypoint, "entrypoint", env)

        # 2. Stage inputs and configFiles, and get the image (pull or build); a cancel stops both.
        mounts = await _stage(job, io, settings)
        image, build_seconds = await _unless_cancelled(
            job.cancel, _prepare_image(job, runtime, io, settings, limits)
        )
        if job.cancel.is_set():
            raise _Cancelled
        if limits["timeout_s"] is not None and build_seconds:
            limits["timeout_s"] = max(limits["timeout_s"] - build_seconds, 0.001)

        # 3. Run the container; a cancel kills it.
        spec = ContainerSpec(
            image=image,
            name=f"{settings.container_prefix}{job.job_id[:24]}-{job.attempt}",
            command=command,
            entrypoint=entrypoint,
            env=env,
            workdir=definition.workdir or None,
            mounts=mounts,
            network=settings.network,
            labels={"io.asman.job": job.job_id, "io.asman.attempt": str(job.attempt)},
            user=settings.user,
            pids_limit=settings.pids_limit,
            **limits,
        )
        outcome = await _run_until_cancelled(job, runtime, spec, run_log)

        # 4. Say how it ended; outputs are kept only from a container that exited on its own.
        if outcome.cancelled:
            raise _Cancelled
        if outcome.timed_out:
            note(f"the job ran longer than its limit of {spec.timeout_s:g}s and was stopped")
            return JobResult(
                reason=FinishedReason.TIMED_OUT,
                isTimedOut=True,
                error=f"the job ran longer than its limit of {spec.timeout_s:g}s",
                logs=tail.as_result(),
                duration=outcome.duration_ms,
            )
        if outcome.exit_code is None:
            return failed(outcome.error or "the container did not run")
        if outcome.oom_killed:
            note(
                f"the container was killed: it used more than its memory limit of {_human_size(spec.memory)}"
            )
        try:
            outputs = await _collect_outputs(job.work_dir / "outputs", io, settings, note)
        except JobFailed as error:
            return failed(error.message, outcome.exit_code)
        return JobResult(
            reason=FinishedReason.SUCCESS,
            StatusCode=outcome.exit_code,
            logs=tail.as_result(),
            duration=outcome.duration_ms,
            outputs=outputs,
        )
    except _Cancelled:
        return JobResult(reason=FinishedReason.CANCELLED, logs=tail.as_result(), duration=elapsed_ms())
    except BuildTimedOut:
        message = (
            f"the image build ran past the job's time limit of {job_duration(job.definition, settings):g}s"
        )
        note(f"{message} and was stopped")
        return JobResult(
            reason=FinishedReason.TIMED_OUT,
            isTimedOut=True,
            error=message,
            logs=tail.as_result(),
            duration=elapsed_ms(),
        )
    except (JobFailed, ContainerRuntimeError) as error:
        return failed(error.message)
    finally:
        await asyncio.to_thread(_remove_work_dir, job.work_dir)


def _limits(job: JobContext, settings: RunSettings) -> dict[str, Any]:
    """ContainerSpec resource fields from the definition's requirements, shmSize and durations, within the
    worker's caps; a job that names no memory or CPUs gets the worker's defaults."""
    definition = job.definition
    requirements = definition.requirements
    limits: dict[str, Any] = {"timeout_s": job_duration(definition, settings)}
    for key, field_name, text, cap, flag in (
        (
            "memory",
            "requirements.memory",
            requirements.memory if requirements else None,
            settings.max_memory,
            "--max-memory",
        ),
        ("shm_size", "shmSize", definition.shmSize, settings.max_shm, "--max-shm"),
    ):
        if text:
            try:
                limits[key] = parse_size(text)
            except ValueError as error:
                raise JobFailed(f"{field_name}: {error}") from None
            if cap is not None and limits[key] > cap:
                raise JobFailed(
                    f"{field_name} {text} is over this worker's cap of {_human_size(cap)} ({flag})"
                )
    if "memory" not in limits and settings.default_memory:
        limits["memory"] = min(settings.default_memory, settings.max_memory or settings.default_memory)
    if requirements and requirements.cpus:
        limits["cpus"] = float(requirements.cpus)
    elif settings.default_cpus:
        limits["cpus"] = settings.default_cpus
    wanted_gpus = requirements.gpus if requirements and requirements.gpus else 0
    if wanted_gpus > len(job.gpu_ids):
        raise JobFailed(f"the job needs {wanted_gpus} GPU(s) but this worker gave it {len(job.gpu_ids)}")
    if wanted_gpus:
        limits["gpus"] = list(job.gpu_ids[:wanted_gpus])
    return limits


async def _unless_cancelled(cancel: asyncio.Event, work: Awaitable[T]) -> T:
    """Await `work`, abandoning it (and raising `_Cancelled`) if the job is cancelled first."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(cancel.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise _Cancelled


async def _run_until_cancelled(
    job: JobContext, runtime: ContainerRuntime, spec: ContainerSpec, on_log: LogSink
) -> RunOutcome:
    """`runtime.run`, with a watcher that stops the container when the job is cancelled."""

    async def stop_on_cancel() -> None:
        await job.cancel.wait()
        await runtime.stop(spec.name)

    watcher = asyncio.create_task(stop_on_cancel(), name=f"cancel-watch {spec.name}")
    try:
        return await runtime.run(spec, on_log)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _fetch_input(name: str, ref: DataRef, io: JobIO, path: Path, limit: int) -> int:
    """Download an input straight into its file (the attempt's work dir goes as a whole if this fails);
    returns its size."""
    sink = path.open("wb")
    try:
        digest = await io.fetch_to(ref, sink, limit)
        size = sink.tell()
    except TooLarge:
        raise
    except AsmanError as error:
        raise JobFailed(
            f"input {name!r}: could not download {str(ref.value)[:200]}: {error.message}"
        ) from None
    except Exception as error:
        raise JobFailed(f"input {name!r}: could not download {str(ref.value)[:200]}: {error}") from None
    finally:
        sink.close()
    if ref.hash and len(ref.hash) == 64 and digest != ref.hash.lower():
        raise JobFailed(f"input {name!r}: the downloaded content does not match its hash {ref.hash}")
    return size


async def _stage(job: JobContext, io: JobIO, settings: RunSettings) -> list[Mount]:
    """Write inputs and configFiles under the work dir; return the container's mounts.

    A cancel abandons a download but never a file operation: a thread left writing into the work dir would
    race the removal of that dir when the attempt ends.
    """
    if job.cancel.is_set():
        raise _Cancelled
    inputs = job.work_dir / "inputs"
    outputs = job.work_dir / "outputs"
    configs = job.work_dir / "config"
    await asyncio.to_thread(_fresh_work_dir, job.work_dir, (inputs, outputs, configs))

    # Relative names land under /inputs; an absolute configFile name is mounted alone at that exact path.
    mounts: list[Mount] = []
    downloaded = 0
    refs = [(name, ref, "input") for name, ref in (job.definition.inputs or {}).items()]
    refs += [(name, ref, "configFile") for name, ref in (job.definition.configFiles or {}).items()]
    for index, (name, ref, kind) in enumerate(refs):
        root: Path | None = inputs
        if kind == "configFile" and name.startswith("/"):
            host, root = configs / str(index), None
            mounts.append(Mount(str(host), absolute_config_path(name), True))
        else:
            try:
                host = inputs / safe_relative_path(name)
            except InvalidInput as error:
                raise JobFailed(f"{kind} name refused: {error.message}") from None
        try:
            data = ref.inline_bytes()
        except InvalidInput as error:
            raise JobFailed(f"input {name!r}: {error.message}") from None
        await asyncio.to_thread(_claim_path, host, root)
        if data is not None:
            await asyncio.to_thread(_write_file, host, data)
            continue
        fetched = _fetch_input(name, ref, io, host, settings.max_input_bytes - downloaded)
        try:
            downloaded += await _unless_cancelled(job.cancel, fetched)
        except TooLarge:
            raise JobFailed(
                f"{kind} {name!r}: the job's downloaded inputs are over this worker's cap of "
                f"{_human_size(settings.max_input_bytes)} (--max-input-size)"
            ) from None
        await asyncio.to_thread(host.chmod, 0o644)

    cache = settings.cache_dir or job.work_dir / "cache"
    await asyncio.to_thread(_writable_dir, cache)
    return [
        Mount(str(inputs), INPUTS_PATH, True),
        Mount(str(outputs), OUTPUTS_PATH, False),
        Mount(str(cache), CACHE_PATH, False),
        *mounts,
    ]


async def _prepare_image(
    job: JobContext, runtime: ContainerRuntime, io: JobIO, settings: RunSettings, limits: dict[str, Any]
) -> tuple[str, float]:
    """The image to run, a build (once per worker, tagged by its spec's hash) or a pulled image, and the
    seconds a build took: they count against the job's time limit."""
    definition = job.definition
    build = definition.build
    if build is not None and (build.context or build.dockerfile):
        tag = build_tag(build)
        if await runtime.has_image(tag):
            return tag, 0.0
        started = time.monotonic()
        archive = await _download_context(build.context, job, io) if build.context else None
        timeout = limits["timeout_s"]
        options = BuildOptions(
            network=settings.network,
            memory=limits.get("memory"),
            cpus=limits.get("cpus"),
            shm_size=limits.get("shm_size"),
            timeout_s=None if timeout is None else max(timeout - (time.monotonic() - started), 0.0),
            context_archive=archive,
            credential_registries=settings.credential_registries,
            allow_private_registries=settings.allow_private_registries,
        )

        def build_log(text: str, epoch_ms: int, is_stderr: bool) -> None:
            io.log(STEP_BUILD, text, epoch_ms, is_stderr)

        await runtime.build_image(build, tag, build_log, options)
        return tag, time.monotonic() - started
    if not definition.image:
        raise JobFailed("a job needs an 'image', or a 'build' with a 'context' or an inline 'dockerfile'")
    if not await runtime.has_image(definition.image):
        await _check_registry(definition.image, settings)
        await runtime.ensure_image(definition.image, settings.credential_registries)
    return definition.image, 0.0


async def _download_context(context: str, job: JobContext, io: JobIO) -> Path:
    """The archive of a build's context URL, downloaded into the attempt's work dir under the URL policy."""
    url, _ = archive_url(context)
    path = job.work_dir / "context-archive"
    sink = path.open("wb")
    try:
        await io.fetch_to(DataRef(type="url", value=url), sink, MAX_DOWNLOAD_BYTES)
    except TooLarge:
        raise JobFailed(
            f"build context: {url[:200]} is larger than {_human_size(MAX_DOWNLOAD_BYTES)}"
        ) from None
    except AsmanError as error:
        raise JobFailed(f"build context: could not download {url[:200]}: {error.message}") from None
    except Exception as error:
        raise JobFailed(f"build context: could not download {url[:200]}: {error}") from None
    finally:
        sink.close()
    return path


async def _check_registry(image: str, settings: RunSettings) -> None:
    """Refuse an image whose registry is at an internal address: the engine would connect there for the job."""
    if settings.allow_private_registries:
        return
    address = await internal_registry(image)
    if address is not None:
        raise JobFailed(internal_registry_refusal(image, address))


async def _collect_outputs(
    outputs: Path, io: JobIO, settings: RunSettings, note: Callable[[str], None]
) -> dict[str, dict[str, Any]]:
    """Every regular file under the outputs folder as a DataRef: inline if small, else uploaded."""
    found, skipped = await asyncio.to_thread(_list_outputs, outputs)
    for name in skipped:
        note(f"output {name!r} skipped: only regular files are kept (not links, devices or pipes)")
    if len(found) > settings.max_output_files:
        raise JobFailed(
            f"the job wrote {len(found)} output files, over this worker's cap of {settings.max_output_files}"
            " (--max-output-files): put many small files in an archive"
        )
    total = sum(size for _, _, size in found)
    if total > settings.max_output_bytes:
        raise JobFailed(
            f"outputs total {total} bytes, over the worker's cap of {settings.max_output_bytes} (--max-output-size)"
        )
    refs: dict[str, dict[str, Any]] = {}
    for name, path, _ in found:
        try:
            data = await asyncio.to_thread(_read_no_follow, path)
        except OSError as error:
            raise JobFailed(f"output {name!r} could not be read: {error.strerror or error}") from None
        if len(data) <= settings.inline_output_limit:
            refs[name] = {"type": "base64", "value": base64.b64encode(data).decode("ascii")}
            continue
        try:
            key = await io.upload(data)
        except AsmanError as error:
            raise JobFailed(f"output {name!r} could not be uploaded: {error.message}") from None
        except Exception as error:
            raise JobFailed(f"output {name!r} could not be uploaded: {error}") from None
        refs[name] = {"type": "url", "value": io.blob_url(key), "hash": key}
    return refs


# -- file system (run in threads) -----------------------------------------------------------------------------


def _fresh_work_dir(work_dir: Path, folders: tuple[Path, ...]) -> None:
    # A leftover of this very attempt (a crash mid-run) is ours to clear; nothing above it is touched.
    shutil.rmtree(work_dir, ignore_errors=True)
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)  # explicit: the umask must not hide inputs from the container's user
    # The job runs as a non-root user: it must be able to write its outputs.
    _writable_dir(folders[1])


def _writable_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)


def _claim_path(path: Path, root: Path | None) -> None:
    """Make the folders of an input's file, refusing names that clash with another input or a link."""
    if root is None:
        return
    # Check every existing component: a file and a folder of the same name, or a link, must not meet.
    for parent in reversed(path.relative_to(root).parents):
        folder = root / parent
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise JobFailed(f"input {path.relative_to(root).as_posix()!r} clashes with another input")
    if path.exists() or path.is_symlink():
        raise JobFailed(
            f"input {path.relative_to(root).as_posix()!r} is given twice or clashes with a folder"
        )
    for parent in reversed(path.relative_to(root).parents):
        folder = root / parent
        if not folder.exists():
            folder.mkdir()
            folder.chmod(0o755)


def _write_file(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o644)


def _list_outputs(outputs: Path) -> tuple[list[tuple[str, Path, int]], list[str]]:
    found: list[tuple[str, Path, int]] = []
    skipped: list[str] = []
    for folder, dirs, files in os.walk(outputs, followlinks=False):
        base = Path(folder)
        for name in sorted(files) + sorted(d for d in dirs if (base / d).is_symlink()):
            path = base / name
            relative = path.relative_to(outputs).as_posix()
            try:
                status = path.lstat()
            except OSError:
                skipped.append(relative)
                continue
            if not stat.S_ISREG(status.st_mode):
                skipped.append(relative)
                continue
            found.append((relative, path, status.st_size))
    found.sort()
    return found, skipped


def _read_no_follow(path: Path) -> bytes:
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb") as handle:
        return handle.read()


def _remove_work_dir(work_dir: Path) -> None:
    shutil.rmtree(work_dir, ignore_errors=True)
    # The job's folder (<data>/j/<job_id>) goes too once its last attempt is gone; siblings are never touched.
    with contextlib.suppress(OSError):
        work_dir.parent.rmdir()
