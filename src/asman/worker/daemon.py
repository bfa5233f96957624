"""The worker daemon: one outgoing WebSocket to `/q/<queue>/worker`, so workers need no open port.

It registers (re-announcing attempts still running after a reconnect), runs each assignment as its own task
through `run_job`, renews leases by heartbeat, streams logs in small batches, and reports each attempt's
result with the attempt number the server handed out, at once (results that became ready while a send was under
way go together, in one `finishedMany` frame where the server takes it). Results that could not be sent survive
a reconnect.
On SIGTERM it stops taking jobs, lets running ones finish within a grace period, then hands the rest back.

Every task it starts is held in a `TaskSet`, named and supervised: a side task (the log flusher, the heartbeat, a
result delivery, the shutdown) that fails is logged and stops the worker, as a worker that no longer renews
its leases or forwards its logs must not keep taking jobs; `run` then raises `WorkerFailed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from asman._version import __version__
from asman.core import protocol
from asman.core.definition import DataRef, JobDefinition
from asman.core.errors import AsmanError
from asman.core.names import blob_key_in_url, blob_upload_headers, is_content_key
from asman.core.protocol import JobResult
from asman.core.states import FinishedReason
from asman.worker.cache import queue_cache, trim
from asman.worker.fetch import Fetcher, FetchFailed
from asman.worker.log_outbox import LogOutbox
from asman.worker.network import JOB_NETWORK
from asman.worker.run import JobContext, RunSettings, run_job
from asman.worker.runtimes.base import ContainerRuntime, RuntimeUnavailable
from asman.worker.tasks import TaskSet
from asman.worker.tes_run import run_tes_job, tes_task

log = logging.getLogger(__name__)

LOG_FLUSH_SECONDS = 0.1
LOG_BATCH_LINES = 500
# Well under the 32 MiB WebSocket message cap, with room for the envelope.
MAX_RESULT_BYTES = 16 * 1024**2
# A `finishedMany` frame's bytes around its results, at most.
FRAME_ENVELOPE_BYTES = 64
# How long a stopping worker waits for results still being delivered, and for its side tasks to end.
DELIVERY_WAIT_SECONDS = 10.0


class WorkerFailed(AsmanError):
    """A side task of the worker failed, so it stopped; the log has the traceback."""


@dataclass(frozen=True)
class WorkerSettings:
    api_url: str
    queue: str
    data_dir: Path
    worker_id: str = field(
        default_factory=lambda: (
            f"{socket.gethostname()}-{hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:6]}"
        )
    )
    slots: int = 1
    gpu_ids: tuple[str, ...] = ()
    max_job_duration_s: float | None = 300.0
    max_output_bytes: int = 1024**3
    # The worker's own network by default (made once; internet, no container-to-container traffic); "none" for
    # locked-down workers, or the name of a network the operator made.
    network: str = JOB_NETWORK
    grace_seconds: float = 30.0
    token: str | None = None
    allow_private_urls: bool = False
    allow_private_registries: bool = False
    # Registries this worker's own credentials (~/.docker/config.json) may be sent to; "*" for any.
    credential_registries: tuple[str, ...] = ()
    default_memory: int | None = 2 * 1024**3
    max_memory: int | None = None
    default_cpus: float | None = 1.0
    max_shm: int | None = 1024**3
    max_input_bytes: int = 10 * 1024**3
    max_output_files: int = 10_000
    # The queue's /job-cache on this worker: least recently used entries go once it holds more.
    cache_bytes: int = 10 * 1024**3
    # Whether file:// URLs (TES inputs and outputs) may name this machine's files: local mode only.
    local_files: bool = False
    # The S3 service of TES s3:// URLs (an endpoint URL); empty refuses them.
    s3_endpoint: str = ""
    reconnect_max_seconds: float = 10.0

    @property
    def socket_url(self) -> str:
        base = self.api_url.rstrip("/").replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}/q/{self.queue}/worker"


class HttpJobIO:
    """A job's link to the outside over HTTP: inputs fetched, outputs uploaded, logs batched to the socket."""

    def __init__(self, daemon: WorkerDaemon, job_id: str, attempt: int) -> None:
        self._daemon = daemon
        self._job_id = job_id
        self._attempt = attempt
        self._loop = asyncio.get_running_loop()

    async def fetch_to(self, ref: DataRef, sink: BinaryIO, limit: int) -> str:
        url = str(ref.value)
        if ref.type == "key":
            return await self._blob(url, sink, limit)
        key = blob_key_in_url(url)
        if key is not None and is_content_key(key) and ref.hash in (None, key):
            # A content-addressed blob on any Asman (or upstream): the queue server likely has the same bytes
            # under the same key, since clients upload there; the hash proves they are the ones named.
            try:
                return await self._blob(key, sink, limit)
            except FetchFailed as error:
                if error.status != 404:
                    raise
                sink.seek(0)
                sink.truncate()
        return await self._daemon.fetcher.download(url, sink, limit)

    async def _blob(self, key: str, sink: BinaryIO, limit: int) -> str:
        digest = await self._daemon.fetcher.download(self.blob_url(key), sink, limit)
        if is_content_key(key) and digest != key:
            raise FetchFailed(f"the queue server's blob {key} does not hash to its key")
        return digest

    async def upload(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        exists = await self._daemon.http.get(f"{self._daemon.settings.api_url}/f/{key}/exists")
        if exists.status_code != 200:
            response = await self._daemon.http.put(
                f"{self._daemon.settings.api_url}/f/{key}",
                content=data,
                headers=blob_upload_headers(key),
                follow_redirects=True,
            )
            response.raise_for_status()
        return key

    def blob_url(self, key: str) -> str:
        return f"{self._daemon.settings.api_url}/f/{key}"

    def log(self, step: str, text: str, epoch_ms: int, is_stderr: bool) -> None:
        self._loop.call_soon_threadsafe(
            self._daemon.buffer_log, self._job_id, self._attempt, step, [text, epoch_ms, is_stderr]
        )


@dataclass(frozen=True)
class _Result:
    """An attempt's result waiting to be sent: a `finished` message without its type, and its size encoded."""

    entry: dict[str, Any]
    size: int


@dataclass
class _Attempt:
    job_id: str
    attempt: int
    context: JobContext
    token: str = ""
    task: asyncio.Task[None] | None = None
    stale: bool = False


class WorkerDaemon:
    def __init__(self, settings: WorkerSettings, runtime: ContainerRuntime) -> None:
        self.settings = settings
        self.runtime = runtime
        # trust_env=False: a proxy from the environment would connect to a name, not to the address checked.
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0), trust_env=False)
        self.fetcher = Fetcher(self.http, settings.api_url, allow_private=settings.allow_private_urls)
        self._attempts: dict[str, _Attempt] = {}
        self._unsent: dict[tuple[str, int], _Result] = {}
        # Results waiting for the sender (keys of `_unsent`, in the order they came), and whether this
        # connection's server takes several in one `finishedMany` frame (its `registered` says so).
        self._ready: dict[tuple[str, int], None] = {}
        self._sender: asyncio.Task[None] | None = None
        self._finished_many = False
        self._logs = LogOutbox()
        # Each attempt's secret, from its assignment: every message about the attempt carries it.
        self._tokens: dict[tuple[str, int], str] = {}
        self._ws: ClientConnection | None = None
        self._draining = False
        self._stopped = asyncio.Event()
        self._engine_down = asyncio.Event()
        self._free_gpus = list(settings.gpu_ids)
        self._gpu_freed = asyncio.Condition()
        self.connected = asyncio.Event()
        self._heartbeat_seconds = 5.0
        self._jobs = TaskSet()
        self._deliveries = TaskSet(on_failure=self._side_task_failed)
        self._background = TaskSet(on_failure=self._side_task_failed)
        self._log_burst: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    # -- public -----------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and serve until `stop()`; reconnects with backoff when the server goes away."""
        await self.runtime.check()
        removed = await self.runtime.cleanup(self._container_prefix())
        if removed:
            log.info("removed %d containers left over by an earlier run of this worker", removed)
        await self.runtime.ensure_network(self.settings.network)
        flusher = self._background.spawn(self._flush_logs_loop(), name="flush-logs")
        delay = 0.5
        try:
            while not self._stopped.is_set():
                if self._engine_down.is_set():
                    await self._wait_for_engine()
                    continue
                try:
                    headers = (
                        {"Authorization": f"Bearer {self.settings.token}"} if self.settings.token else None
                    )
                    async with connect(
                        self.settings.socket_url,
                        max_size=32 * 1024 * 1024,
                        ping_interval=20,
                        open_timeout=10,
                        additional_headers=headers,
                    ) as ws:
                        delay = 0.5
                        await self._session(ws)
                except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                    if self._stopped.is_set():
                        break
                    log.warning(
                        "connection to %s lost (%s); retrying in %.1f s", self.settings.socket_url, exc, delay
                    )
                finally:
                    self._ws = None
                    self.connected.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), delay)
                delay = min(delay * 2, self.settings.reconnect_max_seconds)
        finally:
            flusher.cancel()
            # Jobs left now were neither finished nor handed back (a failure stopped the worker): the server
            # requeues them when their leases run out. Cancelling them removes their containers.
            await self._jobs.cancel()
            await self._deliveries.wait(DELIVERY_WAIT_SECONDS)
            await self._background.wait(DELIVERY_WAIT_SECONDS)
            await self._deliveries.cancel()
            await self._background.cancel()
            await self.http.aclose()
        if self._failure is not None:
            raise WorkerFailed(f"the worker stopped: a background task failed ({self._failure!r})")

    async def _wait_for_engine(self) -> None:
        """Poll the container engine until it answers again, then rejoin the queue."""
        log.warning("waiting for the container engine at %s before taking more jobs", self.runtime_where())
        while not self._stopped.is_set():
            try:
                await self.runtime.check()
            except RuntimeUnavailable:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), 2.0)
                continue
            log.info("the container engine answers again")
            self._engine_down.clear()
            return

    def runtime_where(self) -> str:
        return str(getattr(self.runtime, "where", "the container engine"))

    def request_stop(self, also: Callable[[], Awaitable[None]] | None = None) -> None:
        """Begin a graceful stop (`drain`, then `also`) in the background; later requests change nothing."""
        if self._stopping is not None:
            return
        log.info("stopping: no new jobs; running jobs get %.0f s to finish", self.settings.grace_seconds)

        async def stop() -> None:
            await self.drain()
            if also is not None:
                await also()

        self._stopping = self._background.spawn(stop(), name="shutdown")

    def _side_task_failed(self, task: asyncio.Task[Any], error: BaseException) -> None:
        self._failure = self._failure or error
        if self._stopping is None:
            self.request_stop()
            return
        # The graceful stop itself failed, or cannot finish: stop at once.
        self._stopped.set()
        if self._ws is not None:
            self._background.spawn(self._ws.close(), name="close-connection")

    async def drain(self) -> None:
        """Graceful stop: take no new jobs, wait for running ones up to the grace period, hand back the rest."""
        self._draining = True
        await self._send({"type": protocol.DRAIN})
        tasks = [attempt.task for attempt in self._attempts.values() if attempt.task]
        if tasks:
            log.info("waiting up to %.0f s for %d running job(s)", self.settings.grace_seconds, len(tasks))
            await asyncio.wait(tasks, timeout=self.settings.grace_seconds)
        for attempt in list(self._attempts.values()):
            attempt.stale = True  # its result is not reported: the job goes back to the queue instead
            attempt.context.cancel.set()
            await self._send(self._about(protocol.RELEASE, attempt.job_id, attempt.attempt))
        leftovers = [attempt.task for attempt in self._attempts.values() if attempt.task]
        if leftovers:
            await asyncio.wait(leftovers, timeout=15)
        # Results of jobs that finished in the grace period are on their way: let them arrive before closing.
        await self._deliveries.wait(DELIVERY_WAIT_SECONDS)
        await self._flush_logs()
        self._stopped.set()
        if self._ws is not None:
            await self._ws.close()

    # -- connection -------------------------------------------------------------------------------------------

    async def _session(self, ws: ClientConnection) -> None:
        running = [self._about(None, a.job_id, a.attempt) for a in self._attempts.values()]
        running += [self._about(None, job, attempt) for job, attempt in self._unsent]
        info = {
            "id": self.settings.worker_id,
            "slots": self.settings.slots,
            "gpus": len(self.settings.gpu_ids),
            "version": __version__,
            "maxJobDuration": self.settings.max_job_duration_s,
            "assignMany": True,
            "finishedMany": True,
        }
        await ws.send(orjson.dumps({"type": protocol.REGISTER, "worker": info, "running": running}))
        registered = orjson.loads(await ws.recv())
        if registered.get("type") != protocol.REGISTERED:
            raise ConnectionError(f"unexpected first message {registered.get('type')!r}")
        self._heartbeat_seconds = float(registered.get("heartbeatSeconds", 5.0))
        self._finished_many = registered.get("finishedMany") is True
        for item in registered.get("drop", []):
            self._forget(item["jobId"], int(item["attempt"]))
        # Lines the server lacks go first, straight on this socket: the flusher sends nothing until `_ws` is set,
        # so no later line overtakes them.
        for item in registered.get("keep", []):
            for batch in self._logs.resend(item["jobId"], int(item["attempt"]), item.get("logs") or {}):
                await ws.send(orjson.dumps(self._log_message(*batch)))
        self._ws = ws
        self.connected.set()
        log.info(
            "worker %s connected to %s (%d slots)",
            self.settings.worker_id,
            self.settings.socket_url,
            self.settings.slots,
        )
        if self._unsent:  # results the last connection could not send
            self._send_results_soon(list(self._unsent))
        heartbeat = self._background.spawn(self._heartbeat_loop(ws), name="heartbeat")
        try:
            async for raw in ws:
                await self._on_message(orjson.loads(raw))
        finally:
            heartbeat.cancel()
            await asyncio.wait({heartbeat})  # a failure of its own is the TaskSet's to report

    async def _heartbeat_loop(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            running = [
                {"jobId": a.job_id, "attempt": a.attempt} for a in self._attempts.values() if not a.stale
            ]
            with contextlib.suppress(ConnectionClosed):
                await ws.send(orjson.dumps({"type": protocol.HEARTBEAT, "running": running}))

    async def _send(self, message: dict[str, Any]) -> bool:
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(orjson.dumps(message))
            return True
        except ConnectionClosed:
            return False

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        job_id = str(message.get("jobId", ""))
        attempt = int(message.get("attempt", -1))
        if kind == protocol.ASSIGN_MANY:
            for one in message.get("assignments") or []:
                if isinstance(one, dict) and one.get("type") == protocol.ASSIGN:
                    await self._on_message(one)
        elif kind == protocol.ASSIGN:
            self._tokens[(job_id, attempt)] = str(message.get("token") or "")
            if self._draining:
                await self._send(self._about(protocol.RELEASE, job_id, attempt))
                return
            self._start(job_id, attempt, message.get("definition") or {})
        elif kind == protocol.CANCEL:
            current = self._attempts.get(job_id)
            if current and current.attempt == attempt:
                current.context.cancel.set()
        elif kind == protocol.REJECTED:
            self._forget(job_id, attempt)

    def _forget(self, job_id: str, attempt: int) -> None:
        """The server moved on from this attempt: stop it and never report it."""
        self._unsent.pop((job_id, attempt), None)
        self._done_with(job_id, attempt)
        current = self._attempts.get(job_id)
        if current and current.attempt == attempt:
            current.stale = True
            current.context.cancel.set()

    # -- attempts ---------------------------------------------------------------------------------------------

    def _container_prefix(self) -> str:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in self.settings.worker_id)
        return f"asman-{safe}-"

    def _start(self, job_id: str, attempt: int, raw_definition: dict[str, Any]) -> None:
        previous = self._attempts.get(job_id)
        if previous is not None:
            previous.stale = True
            previous.context.cancel.set()
        work_dir = self.settings.data_dir / "j" / job_id / str(attempt)
        try:
            definition = JobDefinition.model_validate(raw_definition)
        except ValueError as exc:
            result = JobResult(reason=FinishedReason.ERROR, error=f"invalid job definition: {exc}")
            self._report_soon(job_id, attempt, result)
            return
        context = JobContext(job_id=job_id, attempt=attempt, definition=definition, work_dir=work_dir)
        current = _Attempt(job_id, attempt, context)
        self._attempts[job_id] = current
        current.task = self._jobs.spawn(self._run_attempt(current), name=f"job-{job_id[:12]}-{attempt}")

    def _about(self, kind: str | None, job_id: str, attempt: int) -> dict[str, Any]:
        """A message about an attempt (an item of `running` without `kind`), with the attempt's token."""
        about = {"jobId": job_id, "attempt": attempt, "token": self._tokens.get((job_id, attempt), "")}
        return about if kind is None else {"type": kind, **about}

    def _done_with(self, job_id: str, attempt: int) -> None:
        self._logs.drop(job_id, attempt)
        self._tokens.pop((job_id, attempt), None)

    def _report_soon(self, job_id: str, attempt: int, result: JobResult) -> None:
        def finished(result: JobResult) -> dict[str, Any]:
            return {**self._about(None, job_id, attempt), "result": result.model_dump(mode="json")}

        entry = finished(result)
        size = len(orjson.dumps(entry))
        if size > MAX_RESULT_BYTES:
            # Sent as it is, it would be over the socket's message cap: the connection would drop and the job
            # run again and again. Its outputs and logs are gone; what is left says why.
            log.warning(
                "job %s: its result is %d bytes, over %d: reported as an Error",
                job_id[:12],
                size,
                MAX_RESULT_BYTES,
            )
            entry = finished(
                JobResult(
                    reason=FinishedReason.ERROR,
                    StatusCode=result.StatusCode,
                    duration=result.duration,
                    error=(
                        f"the job's result (outputs and log tail) came to {size} bytes, over the {MAX_RESULT_BYTES}"
                        " a worker may report: write fewer output files (put many small ones in an archive)"
                    ),
                ),
            )
            size = len(orjson.dumps(entry))
        self._unsent[(job_id, attempt)] = _Result(entry, size)
        self._send_results_soon([(job_id, attempt)])

    def _send_results_soon(self, keys: list[tuple[str, int]]) -> None:
        self._ready.update(dict.fromkeys(keys))
        if self._sender is None or self._sender.done():
            self._sender = self._deliveries.spawn(self._deliver(), name="deliver-results")

    async def _deliver(self) -> None:
        """Send the results waiting: at once, and those that came while a send was under way together (a
        result never waits for others to join it)."""
        while self._ready:
            keys = list(self._ready)
            self._ready.clear()
            await self._flush_logs()  # each result's lines go before it
            frames = self._frames([key for key in keys if key in self._unsent])  # the rest were dropped
            # Built before the first send: a result dropped while a frame is on its way must not break the rest.
            messages = [self._results_message(frame) for frame in frames]
            for frame, message in zip(frames, messages, strict=True):
                if await self._send(message):
                    for key in frame:
                        self._unsent.pop(key, None)
                        self._done_with(*key)
        if self._engine_down.is_set() and not self._attempts and self._ws is not None:
            await self._ws.close()  # the run loop waits for the engine before reconnecting

    def _frames(self, keys: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
        """The results in as few frames as the server takes: one a frame unless it takes `finishedMany`, and
        then as many as fit a frame's limits (a large result may go alone)."""
        if not self._finished_many:
            return [[key] for key in keys]
        frames: list[list[tuple[str, int]]] = []
        frame: list[tuple[str, int]] = []
        size = FRAME_ENVELOPE_BYTES
        for key in keys:
            added = self._unsent[key].size + 1
            full = len(frame) == protocol.FINISHED_MANY_MOST_RESULTS
            if frame and (full or size + added > protocol.FINISHED_MANY_MOST_BYTES):
                frames.append(frame)
                frame, size = [], FRAME_ENVELOPE_BYTES
            frame.append(key)
            size += added
        return [*frames, frame] if frame else frames

    def _results_message(self, frame: list[tuple[str, int]]) -> dict[str, Any]:
        if len(frame) == 1:
            return {"type": protocol.FINISHED, **self._unsent[frame[0]].entry}
        return {"type": protocol.FINISHED_MANY, "results": [self._unsent[key].entry for key in frame]}

    async def _take_gpus(self, count: int) -> list[str]:
        async with self._gpu_freed:
            await self._gpu_freed.wait_for(lambda: len(self._free_gpus) >= count)
            taken, self._free_gpus = self._free_gpus[:count], self._free_gpus[count:]
            return taken

    async def _give_gpus(self, ids: list[str]) -> None:
        async with self._gpu_freed:
            self._free_gpus.extend(ids)
            self._gpu_freed.notify_all()

    async def _run_attempt(self, current: _Attempt) -> None:
        requirements = current.context.definition.requirements
        wanted = min(int(requirements.gpus or 0) if requirements else 0, len(self.settings.gpu_ids))
        gpus = await self._take_gpus(wanted) if wanted else []
        current.context.gpu_ids = tuple(gpus)
        settings = self.settings
        cache = queue_cache(settings.data_dir, settings.queue)
        run_settings = RunSettings(
            max_job_duration_s=settings.max_job_duration_s,
            max_output_bytes=settings.max_output_bytes,
            network=settings.network,
            api_url=settings.api_url,
            cache_dir=cache,
            container_prefix=self._container_prefix(),
            allow_private_urls=settings.allow_private_urls,
            trusted_url_prefixes=(settings.api_url,),
            local_files=settings.local_files,
            default_memory=settings.default_memory,
            max_memory=settings.max_memory,
            default_cpus=settings.default_cpus,
            max_shm=settings.max_shm,
            max_input_bytes=settings.max_input_bytes,
            max_output_files=settings.max_output_files,
            allow_private_registries=settings.allow_private_registries,
            credential_registries=settings.credential_registries,
            s3_endpoint=settings.s3_endpoint,
        )
        try:
            job_io = HttpJobIO(self, current.job_id, current.attempt)
            run = run_tes_job if tes_task(current.context.definition) else run_job
            result = await run(current.context, self.runtime, job_io, settings=run_settings)
        except RuntimeUnavailable as exc:
            log.error("the container engine went away during job %s: %s", current.job_id[:12], exc)
            result = JobResult(
                reason=FinishedReason.ERROR,
                error=f"the worker's container engine stopped answering during the job: {exc.message}",
            )
            # Taking more jobs now would only fail them too: step away from the queue until the engine is back.
            self._engine_down.set()
        except Exception as exc:  # a worker bug must not take the job down silently
            log.exception("job %s failed inside the worker", current.job_id[:12])
            result = JobResult(reason=FinishedReason.ERROR, error=f"the worker failed: {exc}")
        finally:
            if gpus:
                await self._give_gpus(gpus)
            if self._attempts.get(current.job_id) is current:
                del self._attempts[current.job_id]
            shutil.rmtree(current.context.work_dir, ignore_errors=True)
            removed = await asyncio.to_thread(trim, cache, settings.cache_bytes)
            if removed:
                log.info(
                    "job cache over %d bytes: removed %d least recently used entries",
                    settings.cache_bytes,
                    len(removed),
                )
        if not current.stale:
            self._report_soon(current.job_id, current.attempt, result)

    # -- logs -------------------------------------------------------------------------------------------------

    def buffer_log(self, job_id: str, attempt: int, step: str, line: list[Any]) -> None:
        waiting = self._logs.add((job_id, attempt, step), line)
        if waiting >= LOG_BATCH_LINES and (self._log_burst is None or self._log_burst.done()):
            # A full batch goes at once rather than at the next tick; one such flush at a time is enough.
            self._log_burst = self._background.spawn(self._flush_logs(), name="flush-logs-burst")

    async def _flush_logs(self) -> None:
        # Lines that cannot be sent now (no connection) are kept and sent after the next registration.
        for key, first, lines in self._logs.take():
            current = self._attempts.get(key[0])
            if current is not None and current.stale:
                continue
            await self._send(self._log_message(key, first, lines))

    def _log_message(self, key: tuple[str, int, str], first: int, lines: list[list[Any]]) -> dict[str, Any]:
        job_id, attempt, step = key
        return {**self._about(protocol.LOG, job_id, attempt), "step": step, "seq": first, "logs": lines}

    async def _flush_logs_loop(self) -> None:
        while True:
            await asyncio.sleep(LOG_FLUSH_SECONDS)
            if self._logs:
                await self._flush_logs()


def install_signal_handlers(daemon: WorkerDaemon, also: Callable[[], Awaitable[None]] | None = None) -> None:
    """SIGTERM and SIGINT stop the worker gracefully (`WorkerDaemon.request_stop`), then run `also`."""
    import signal

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.request_stop, also)
