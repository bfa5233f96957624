"""`asman worker`: take jobs from a queue and run them in containers (remote mode), or run the server and a
worker in one process (local mode: jobs always run on this computer)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
import subprocess
from typing import TYPE_CHECKING, Annotated, Any

import typer

from asman.cli._extras import require_extras
from asman.cli._logging import uvicorn_logging
from asman.cli._settings import settings_command, start_logging
from asman.settings import METAPAGE_ORIGINS, Scope, Settings

if TYPE_CHECKING:
    from asman.worker.daemon import WorkerSettings


def parse_gpus(text: str | None) -> tuple[str, ...]:
    """`--gpus 2` (the first two), `all` (every GPU nvidia-smi lists), `device=1,3` (those ids)."""
    if not text or text == "0":
        return ()
    if text.startswith("device="):
        return tuple(part.strip() for part in text.removeprefix("device=").split(",") if part.strip())
    if text == "all":
        if not shutil.which("nvidia-smi"):
            return ()
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False).stdout
        return tuple(str(index) for index, line in enumerate(listing.splitlines()) if line.startswith("GPU"))
    if text.isdigit():
        return tuple(str(index) for index in range(int(text)))
    raise typer.BadParameter(f"--gpus {text!r}: use a count (2), 'all' or 'device=1,3'")


@settings_command(Scope.WORKER)
def worker(
    settings: Settings,
    queue: Annotated[
        str | None, typer.Argument(metavar="QUEUE", help="The queue to take jobs from (local mode: 'local').")
    ] = None,
) -> None:
    local = settings.worker_mode == "local"
    if not local and not queue:
        raise typer.BadParameter("name the queue to work for: asman worker QUEUE (or --mode local)")
    if local:
        require_extras("asman worker --mode local", "server", "worker")
    else:
        require_extras("asman worker", "worker")
    from asman.worker.daemon import WorkerSettings

    worker_settings = WorkerSettings(
        api_url=f"http://127.0.0.1:{settings.port}" if local else settings.api_url.rstrip("/"),
        queue=queue or "local",
        data_dir=settings.data_dir.resolve(),
        slots=settings.worker_cpus,
        gpu_ids=parse_gpus(settings.worker_gpus),
        max_job_duration_s=settings.worker_max_job_duration,
        max_output_bytes=settings.worker_max_output_size,
        network=settings.worker_network,
        grace_seconds=settings.worker_grace_period,
        token=settings.worker_queue_token,
        allow_private_urls=settings.worker_allow_private_urls,
        allow_private_registries=settings.worker_allow_private_registries,
        credential_registries=tuple(
            name.strip() for name in settings.worker_registry_credentials.split(",") if name.strip()
        ),
        default_memory=settings.worker_default_memory or None,
        max_memory=settings.worker_max_memory or None,
        default_cpus=settings.worker_default_cpus or None,
        max_shm=settings.worker_max_shm,
        max_input_bytes=settings.worker_max_input_size,
        max_output_files=settings.worker_max_output_files,
        cache_bytes=settings.worker_cache_size,
        # file:// TES inputs and outputs name this computer's files: only a local-mode worker is on it.
        local_files=local,
        s3_endpoint=settings.worker_s3_endpoint,
    )
    if settings.worker_id:  # else the worker's own default: host name and a random suffix
        worker_settings = dataclasses.replace(worker_settings, worker_id=settings.worker_id)
    start_logging(settings)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(worker_settings, local_server_settings(settings) if local else None))


def local_server_settings(settings: Settings) -> Settings:
    """The server's settings in local mode: everything runs on this computer, so webhooks may go to it too,
    and web pages may not drive it, except the metapages (unless the user said otherwise)."""
    changes: dict[str, Any] = {}
    if "webhook_allow_private_urls" not in settings.model_fields_set:
        changes["webhook_allow_private_urls"] = True
    if "tes_queue" not in settings.model_fields_set:
        changes["tes_queue"] = "local"  # the only queue local mode works for
    if "cors_origins" not in settings.model_fields_set:
        # Not every page the user opens: only the metapages that embed the web client (docs/security.md).
        changes["cors_origins"] = ",".join(METAPAGE_ORIGINS)
    return settings.with_(**changes) if changes else settings


async def _serve(settings: WorkerSettings, server_settings: Settings | None) -> None:
    """Run the worker, and in local mode (`server_settings` given) the server beside it in this process."""
    import uvicorn

    from asman.worker.daemon import WorkerDaemon, WorkerFailed, install_signal_handlers
    from asman.worker.runtimes import DockerRuntime, NetworkError, RuntimeUnavailable

    runtime = DockerRuntime()
    try:
        await runtime.check()
    except RuntimeUnavailable as exc:
        typer.secho(f"asman worker: {exc.message}", err=True, fg="red")
        raise typer.Exit(2) from None
    server: uvicorn.Server | None = None
    server_task: asyncio.Task[None] | None = None
    if server_settings is not None:
        from asman.server.app import create_app
        from asman.server.slow_clients import http_protocol

        host, port = server_settings.host, server_settings.port
        config = uvicorn.Config(
            create_app(server_settings),
            host=host,
            port=port,
            http=http_protocol(server_settings.header_timeout),
            proxy_headers=False,
            ws_max_size=32 * 1024 * 1024,
            ws_max_queue=8,
            timeout_graceful_shutdown=5,
            **uvicorn_logging(server_settings),
        )
        server = uvicorn.Server(config)
        # The worker owns SIGTERM/SIGINT in local mode: it drains its jobs first, then stops the server.
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        server_task = asyncio.create_task(server.serve(), name="asman-local-server")
        while not server.started:
            if server_task.done():
                await server_task
                raise typer.Exit(1)
            await asyncio.sleep(0.05)
        typer.echo(
            f"Asman (local mode) on http://{host}:{port}  queue: {settings.queue}"
            f"  data: {server_settings.data_dir}"
        )
    daemon = WorkerDaemon(settings, runtime)

    async def stop_server() -> None:
        if server is not None:
            server.should_exit = True

    install_signal_handlers(daemon, stop_server)
    typer.echo(
        f"worker {settings.worker_id}: {settings.slots} slot(s), queue {settings.queue!r} at {settings.api_url}"
    )
    try:
        await daemon.run()
    except (WorkerFailed, NetworkError) as exc:
        typer.secho(f"asman worker: {exc.message}", err=True, fg="red")
        raise typer.Exit(1) from None
    finally:
        await runtime.close()
        if server is not None and server_task is not None:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await server_task
