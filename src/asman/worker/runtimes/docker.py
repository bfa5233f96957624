"""`DockerRuntime`: the container runtime over the Docker Engine API (podman's compatible socket works too).

The `docker` SDK is synchronous. Short calls (create, start, kill, remove, inspect) run through
`asyncio.to_thread`; calls that block for a whole run (wait, the two log streams, pulls, builds) get a dedicated
thread each, so several long jobs never exhaust the default executor and the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

import docker
import docker.auth
import docker.errors
import requests.exceptions
from docker.models.containers import Container
from docker.types import DeviceRequest
from docker.types import Mount as DockerMount

from asman.core.definition import BuildSpec
from asman.worker.images import credentials_allowed, registry_of
from asman.worker.network import JOB_NETWORK, MANAGED_LABEL, NO_NETWORK, network_create_arguments
from asman.worker.runtimes.base import (
    BuildError,
    BuildOptions,
    BuildTimedOut,
    ContainerSpec,
    ImageError,
    LogSink,
    NetworkError,
    RunOutcome,
    RuntimeUnavailable,
)
from asman.worker.runtimes.context import build_args, ensure_base_images, make_context

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
BUILD_TIMEOUT_S = 6 * 3600
CPU_PERIOD_US = 100_000
# After the container exits, its log streams end on their own; this only bounds a misbehaving engine.
LOG_DRAIN_TIMEOUT_S = 10.0


def _unavailable(where: str, error: BaseException) -> RuntimeUnavailable:
    return RuntimeUnavailable(
        f"no container engine answers at {where} ({error}). Start Docker, or set DOCKER_HOST to a running "
        "engine's socket (podman's Docker-compatible socket works too), or start a private engine with "
        "`scripts/docker-engine.sh start /tmp/asman-docker` and "
        '`eval "$(scripts/docker-engine.sh env /tmp/asman-docker)"`.'
    )


def _explain(error: docker.errors.APIError) -> str:
    explanation = error.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", "replace")
    return str(explanation or error)


def epoch_ms(stamp: bytes | str) -> int:
    """Milliseconds since the epoch of a Docker log timestamp (RFC 3339, UTC, up to nanoseconds)."""
    text = stamp.decode("ascii", "replace") if isinstance(stamp, bytes) else stamp
    try:
        head, _, fraction = text.rstrip("Z").partition(".")
        moment = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        return int(moment.timestamp()) * 1000 + int((fraction + "000")[:3])
    except ValueError:
        return int(time.time() * 1000)


async def _in_thread(function: Callable[[], T], name: str) -> T:
    """Run a long blocking call in its own daemon thread and await its result."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def target() -> None:
        try:
            outcome: tuple[T | None, BaseException | None] = (function(), None)
        except BaseException as error:
            outcome = (None, error)
        # The awaiting side may be gone (cancelled, loop closed): then there is no one left to tell.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=target, name=name, daemon=True).start()
    return await future


class _Request(NamedTuple):
    params: dict[str, Any]
    headers: dict[str, str]


class _BuildStopper:
    """Stops a build from another thread by shutting its response's connection; safe before it exists."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._response: requests.Response | None = None
        self._stopped = False

    def hold(self, response: requests.Response) -> None:
        with self._lock:
            self._response = response
            stopped = self._stopped
        if stopped:
            self._close(response)

    def release(self) -> None:
        with self._lock:
            response, self._response = self._response, None
        if response is not None:
            response.close()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            response = self._response
        if response is not None:
            self._close(response)

    @staticmethod
    def _close(response: requests.Response) -> None:
        with contextlib.suppress(Exception):
            response.raw.shutdown()  # wakes the reading thread
        with contextlib.suppress(Exception):
            response.close()


class DockerRuntime:
    """Containers through a Docker engine: `DOCKER_HOST` (or `base_url`), else the default socket."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        init: bool | None = None,
        max_pool_size: int = 64,
        client: docker.DockerClient | None = None,
    ) -> None:
        self._base_url = base_url
        self._init = init
        self._max_pool_size = max_pool_size
        self._client = client
        self._ncpu: int | None = None
        self._image_locks: dict[str, asyncio.Lock] = {}
        self._cancel_requested: set[str] = set()
        self._networks_ready: set[str] = {NO_NETWORK}

    @property
    def where(self) -> str:
        return self._base_url or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET

    # -- connection -------------------------------------------------------------------------------------------

    def _connect(self) -> docker.DockerClient:
        try:
            if self._base_url:
                client = docker.DockerClient(
                    base_url=self._base_url, version="auto", max_pool_size=self._max_pool_size
                )
            else:
                client = docker.DockerClient.from_env(version="auto", max_pool_size=self._max_pool_size)
            info = client.info()
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as error:
            raise _unavailable(self.where, error) from None
        self._ncpu = int(info.get("NCPU") or 0) or None
        if self._init is None:
            self._init = bool(info.get("InitBinary"))
        return client

    async def _docker(self) -> docker.DockerClient:
        if self._client is None:
            self._client = await asyncio.to_thread(self._connect)
        return self._client

    async def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A short SDK call in the default executor, with a dead engine reported as `RuntimeUnavailable`."""
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except (requests.exceptions.ConnectionError, ConnectionError) as error:
            raise _unavailable(self.where, error) from None

    async def check(self) -> None:
        """Raise `RuntimeUnavailable` unless the engine answers."""
        client = await self._docker()
        await self._call(client.ping)

    async def close(self) -> None:
        if self._client is not None:
            await asyncio.to_thread(self._client.close)
            self._client = None

    # -- images -----------------------------------------------------------------------------------------------

    def _lock(self, image: str) -> asyncio.Lock:
        return self._image_locks.setdefault(image, asyncio.Lock())

    async def has_image(self, image: str) -> bool:
        client = await self._docker()
        try:
            await self._call(client.api.inspect_image, image)
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as error:
            raise ImageError(f"cannot inspect image {image!r}: {_explain(error)}") from None
        return True

    async def ensure_image(self, image: str, credential_registries: tuple[str, ...] = ()) -> None:
        async with self._lock(image):
            if await self.has_image(image):
                return
            client = await self._docker()
            log.info("pulling image %s", image)

            # An empty auth config makes the pull anonymous; None lets the SDK send the worker's credentials.
            auth: dict[str, Any] | None = (
                None if credentials_allowed(registry_of(image), credential_registries) else {}
            )

            def pull() -> str | None:
                last_error = None
                for event in client.api.pull(image, stream=True, decode=True, auth_config=auth):
                    if isinstance(event, dict) and event.get("error"):
                        last_error = str(event["error"])
                return last_error

            try:
                failure = await _in_thread(pull, f"pull {image}")
            except docker.errors.APIError as error:
                failure = _explain(error)
            except (requests.exceptions.ConnectionError, ConnectionError) as error:
                raise _unavailable(self.where, error) from None
            except docker.errors.DockerException as error:
                failure = str(error)
            if failure is None and await self.has_image(image):
                return
            raise ImageError.not_pulled(image, failure)

    async def build_image(
        self, build: BuildSpec, tag: str, on_log: LogSink, options: BuildOptions = BuildOptions()
    ) -> str:
        client = await self._docker()
        context = await make_context(build, options.context_archive)
        await ensure_base_images(self, context.text, build, options)
        request = self._build_request(build, tag, context.dockerfile, options)
        stopper = _BuildStopper()

        def run_build() -> tuple[str | None, str | None]:
            image_id: str | None = None
            error: str | None = None
            api: Any = client.api
            # The SDK's build() offers no CPU quota and keeps the response to itself (a build is stopped by
            # closing its connection), so the request is made here, the way build() makes it.
            response = api._post(
                api._url("/build"),
                data=context.tar,
                params=request.params,
                headers=request.headers,
                stream=True,
                timeout=BUILD_TIMEOUT_S,
            )
            stopper.hold(response)
            try:
                api._raise_for_status(response)
                for event in api._stream_helper(response, decode=True):
                    if not isinstance(event, dict):
                        continue
                    now = int(time.time() * 1000)
                    if "stream" in event:
                        for line in str(event["stream"]).splitlines():
                            if line.strip():
                                on_log(line, now, False)
                    if event.get("error"):
                        error = str(event["error"]).strip()
                        on_log(error, now, True)
                    aux = event.get("aux")
                    if isinstance(aux, dict) and aux.get("ID"):
                        image_id = str(aux["ID"])
            finally:
                stopper.release()
            return image_id, error

        async with self._lock(tag):
            building = asyncio.ensure_future(_in_thread(run_build, f"build {tag}"))
            done, _ = await asyncio.wait({building}, timeout=options.timeout_s)
            if not done:
                # Closing the connection makes the engine cancel the build and kill its step's container.
                stopper.stop()
                with contextlib.suppress(Exception):
                    await building
                raise BuildTimedOut(
                    f"the image build ran past the job's time limit of {options.timeout_s:g}s"
                )
            try:
                image_id, failure = building.result()
            except docker.errors.APIError as error:
                raise BuildError(f"the image build failed: {_explain(error)}") from None
            except (requests.exceptions.ConnectionError, ConnectionError) as error:
                raise _unavailable(self.where, error) from None
            except docker.errors.DockerException as error:
                raise BuildError(f"the image build failed: {error}") from None
        if failure:
            raise BuildError(f"the image build failed: {failure}")
        if image_id is None:
            try:
                image_id = str((await self._call(client.api.inspect_image, tag))["Id"])
            except docker.errors.APIError as error:
                raise BuildError(
                    f"the build finished but image {tag!r} is missing: {_explain(error)}"
                ) from None
        return image_id

    def _build_request(self, build: BuildSpec, tag: str, dockerfile: str, options: BuildOptions) -> _Request:
        """The query and headers of POST /build: the job's network and limits on every step's container."""
        params: dict[str, Any] = {
            "t": tag,
            "dockerfile": dockerfile,
            "rm": "1",
            "forcerm": "1",
            "pull": "0",
            "networkmode": options.network,
        }
        if build.target:
            params["target"] = build.target
        if build.platform:
            params["platform"] = build.platform
        arguments = build_args(build)
        if arguments:
            params["buildargs"] = json.dumps(arguments)
        if options.memory:
            params["memory"] = options.memory
            params["memswap"] = options.memory  # no swap beyond the memory limit, as for the job's container
        cpus = self._cpus(options.cpus)
        if cpus:
            params["cpuperiod"] = CPU_PERIOD_US
            params["cpuquota"] = int(cpus * CPU_PERIOD_US)
        if options.shm_size:
            params["shmsize"] = options.shm_size
        headers = {"Content-Type": "application/tar"}
        credentials = self._credentials(options.credential_registries)
        if credentials:
            headers["X-Registry-Config"] = docker.auth.encode_header(credentials).decode("ascii")
        return _Request(params, headers)

    def _credentials(self, registries: tuple[str, ...]) -> dict[str, Any]:
        """The worker's registry credentials for the listed registries only (a build could pull from any)."""
        if not registries:
            return {}
        configs: Any = docker.auth.load_config()
        return {
            registry: credential
            for registry, credential in dict(configs.get_all_credentials()).items()
            if credentials_allowed(registry, registries)
        }

    def _cpus(self, cpus: float | None) -> float | None:
        return min(cpus, float(self._ncpu)) if cpus and self._ncpu else cpus

    # -- the job network ----------------------------------------------------------------------------------------

    async def ensure_network(self, name: str) -> None:
        if name in self._networks_ready:
            return
        client = await self._docker()
        try:
            network = await self._call(client.networks.get, name)
        except docker.errors.NotFound:
            if name != JOB_NETWORK:
                raise NetworkError.missing(name, self.where) from None
            await self._create_network(name)
        except docker.errors.APIError as error:
            raise NetworkError(f"cannot inspect the job network {name!r}: {_explain(error)}") from None
        else:
            icc = (network.attrs.get("Options") or {}).get("com.docker.network.bridge.enable_icc")
            if name == JOB_NETWORK and icc != "false":
                log.warning(
                    "the job network %s exists but lets containers reach each other: remove it "
                    "(docker network rm %s) and the worker makes it again without that",
                    name,
                    name,
                )
        self._networks_ready.add(name)

    async def _create_network(self, name: str) -> None:
        client = await self._docker()
        log.info("creating the job network %s: internet access, no traffic between its containers", name)
        try:
            await self._call(client.networks.create, **network_create_arguments(name))
        except docker.errors.APIError as error:
            if error.status_code == 409:  # another worker on this engine made it first
                return
            raise NetworkError(f"could not create the job network {name!r}: {_explain(error)}") from None

    # -- containers -------------------------------------------------------------------------------------------

    def _create_arguments(self, spec: ContainerSpec) -> dict[str, Any]:
        cpus = self._cpus(spec.cpus)
        arguments: dict[str, Any] = {
            "command": spec.command,
            "entrypoint": spec.entrypoint,
            "environment": dict(spec.env),
            "working_dir": spec.workdir,
            "name": spec.name,
            "labels": {**spec.labels, MANAGED_LABEL: "1"},
            "user": spec.user,
            "network_mode": spec.network,
            "mounts": [
                DockerMount(target=container_path, source=host_path, type="bind", read_only=read_only)
                for host_path, container_path, read_only in spec.mounts
            ],
            "security_opt": ["no-new-privileges"],
            "cap_drop": ["ALL"],
            "pids_limit": spec.pids_limit,
            "init": bool(self._init),
            "detach": True,
            "tty": False,
            "stdin_open": False,
        }
        if cpus:
            arguments["nano_cpus"] = int(cpus * 1e9)
        if spec.memory:
            arguments["mem_limit"] = spec.memory
            arguments["memswap_limit"] = spec.memory
        if spec.shm_size:
            arguments["shm_size"] = spec.shm_size
        if spec.gpus:
            arguments["device_requests"] = [DeviceRequest(device_ids=list(spec.gpus), capabilities=[["gpu"]])]
        return arguments

    def _pump_logs(
        self,
        container: Container,
        is_stderr: bool,
        on_log: LogSink,
        streams: list[Any],
        counts: dict[bool, int],
    ) -> None:
        """Thread body: follow one of the container's streams, one call of `on_log` per written line."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        counts[is_stderr] = 0
        try:
            stream: Iterator[bytes] = container.logs(
                stdout=not is_stderr, stderr=is_stderr, stream=True, follow=True, timestamps=True
            )
            streams.append(stream)
            for chunk in stream:
                counts[is_stderr] += 1
                self._emit(chunk, decoder, is_stderr, on_log)
        except Exception as error:  # the container went away under us: nothing more to read
            log.debug("log stream of %s ended: %s", container.name, error)

    @staticmethod
    def _emit(chunk: bytes, decoder: codecs.IncrementalDecoder, is_stderr: bool, on_log: LogSink) -> None:
        stamp, _, payload = chunk.partition(b" ")
        text = decoder.decode(payload)
        if not text:
            return
        try:
            # The text as the program wrote it, newline included: joining the lines gives its output exactly.
            on_log(text, epoch_ms(stamp), is_stderr)
        except Exception:
            log.exception("log sink failed")

    def _catch_up_logs(self, container: Container, on_log: LogSink, counts: dict[bool, int]) -> None:
        """A last line without a newline can reach the log after a follower stopped: read the whole log once
        more and pass on the entries the followers did not see."""
        for is_stderr, seen in counts.items():
            try:
                whole: bytes = container.logs(stdout=not is_stderr, stderr=is_stderr, timestamps=True)
            except Exception as error:
                log.debug("final log read of %s failed: %s", container.name, error)
                continue
            # Entries with their newlines back; the last one may be a line the program never ended.
            pieces = whole.split(b"\n")
            entries = [piece + b"\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            for entry in entries[seen:]:
                self._emit(entry, decoder, is_stderr, on_log)

    async def run(self, spec: ContainerSpec, on_log: LogSink) -> RunOutcome:
        client = await self._docker()
        try:
            try:
                container = await self._call(
                    client.containers.create, spec.image, **self._create_arguments(spec)
                )
            except docker.errors.ImageNotFound:
                return RunOutcome(exit_code=None, error=f"image {spec.image!r} is not on this worker")
            except docker.errors.APIError as error:
                return RunOutcome(exit_code=None, error=f"could not create the container: {_explain(error)}")
            try:
                return await self._start_and_wait(container, spec, on_log)
            finally:
                # Removal must happen even when this task is being cancelled: shield it from a second cancel.
                await asyncio.shield(self._remove(container))
        finally:
            self._cancel_requested.discard(spec.name)

    async def _start_and_wait(self, container: Container, spec: ContainerSpec, on_log: LogSink) -> RunOutcome:
        if spec.name in self._cancel_requested:
            return RunOutcome(exit_code=None, cancelled=True)
        started = time.monotonic()
        try:
            await self._call(container.start)
        except docker.errors.APIError as error:
            return RunOutcome(
                exit_code=None,
                error=f"the container could not start: {_explain(error)}",
                cancelled=spec.name in self._cancel_requested,
            )

        # One thread per output stream, each calling on_log as lines are written.
        streams: list[Any] = []
        counts: dict[bool, int] = {}
        pumps = [
            threading.Thread(
                target=self._pump_logs,
                args=(container, is_stderr, on_log, streams, counts),
                name=f"logs {spec.name} {'stderr' if is_stderr else 'stdout'}",
                daemon=True,
            )
            for is_stderr in (False, True)
        ]
        for pump in pumps:
            pump.start()
        waiting = asyncio.ensure_future(_in_thread(lambda: container.wait(), f"wait {spec.name}"))
        try:
            # `stop` may have run between create and start; it marks the name before it kills, so look again.
            if spec.name in self._cancel_requested:
                await self._kill(container)
            done, _ = await asyncio.wait({waiting}, timeout=spec.timeout_s)
            timed_out = not done and spec.name not in self._cancel_requested
            if not done:
                await self._kill(container)
            try:
                status = await waiting
            except docker.errors.APIError as error:
                return RunOutcome(exit_code=None, error=f"lost track of the container: {_explain(error)}")
            duration_ms = int((time.monotonic() - started) * 1000)

            for pump in pumps:
                await asyncio.to_thread(pump.join, LOG_DRAIN_TIMEOUT_S)
            await asyncio.to_thread(self._catch_up_logs, container, on_log, counts)
            state: dict[str, Any] = {}
            with contextlib.suppress(docker.errors.APIError):
                await self._call(container.reload)
                state = container.attrs.get("State") or {}
            details = status.get("Error")
            cancelled = spec.name in self._cancel_requested
            return RunOutcome(
                exit_code=None if cancelled or timed_out else int(status["StatusCode"]),
                timed_out=timed_out and not cancelled,
                cancelled=cancelled,
                error=(details.get("Message") or None) if details else None,
                duration_ms=duration_ms,
                oom_killed=bool(state.get("OOMKilled")),
            )
        finally:
            if not waiting.done():
                waiting.cancel()
            for stream in streams:
                with contextlib.suppress(Exception):
                    stream.close()

    async def _kill(self, container: Container) -> None:
        try:
            await self._call(container.kill)
        except docker.errors.APIError as error:  # already stopped, or gone
            log.debug("kill %s: %s", container.name, _explain(error))

    async def _remove(self, container: Container) -> None:
        try:
            await self._call(container.remove, force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as error:
            log.warning("could not remove container %s: %s", container.name, _explain(error))

    async def stop(self, container_name: str) -> None:
        # Mark first, kill second: `run` checks the mark after starting, so no start can slip past a stop.
        self._cancel_requested.add(container_name)
        client = await self._docker()
        try:
            await self._call(client.api.kill, container_name)
        except docker.errors.APIError as error:  # not created yet, not running, or gone: the mark suffices
            log.debug("stop %s: %s", container_name, _explain(error))

    async def cleanup(self, prefix: str) -> int:
        client = await self._docker()
        listed = await self._call(client.api.containers, all=True, filters={"label": MANAGED_LABEL})
        removed = 0
        for entry in listed:
            names = [str(name).lstrip("/") for name in entry.get("Names") or []]
            if not any(name.startswith(prefix) for name in names):
                continue
            try:
                await self._call(client.api.remove_container, entry["Id"], force=True)
                removed += 1
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as error:
                log.warning("could not remove container %s: %s", names, _explain(error))
        return removed
