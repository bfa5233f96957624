"""`asman worker`: take jobs from a queue and run them in containers (remote mode), or run the server and a
worker in one process (local mode: jobs always run on this computer)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from asman.cli._extras import require_extras
from asman.core.units import parse_duration, parse_size
from asman.settings import DEFAULT_DATA_DIR


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


def worker(
    queue: Annotated[
        str | None, typer.Argument(help="The queue to take jobs from (local mode: 'local').")
    ] = None,
    cpus: Annotated[int, typer.Option("--cpus", envvar="ASMAN_WORKER_CPUS", help="Jobs run at once.")] = 1,
    gpus: Annotated[
        str | None,
        typer.Option("--gpus", envvar="ASMAN_WORKER_GPUS", help="GPUs to offer: 2, all, device=1,3."),
    ] = None,
    max_job_duration: Annotated[
        str, typer.Option("--max-job-duration", envvar="ASMAN_WORKER_MAX_JOB_DURATION", help="Cap per job.")
    ] = "5m",
    data_directory: Annotated[
        Path | None, typer.Option("--data-directory", envvar="ASMAN_WORKER_DATA_DIRECTORY", help="Job files.")
    ] = None,
    api_address: Annotated[
        str, typer.Option("--api-address", envvar="ASMAN_WORKER_API_ADDRESS", help="The queue server.")
    ] = "http://127.0.0.1:8000",
    worker_id: Annotated[
        str | None, typer.Option("--id", envvar="ASMAN_WORKER_ID", help="This worker's name.")
    ] = None,
    mode: Annotated[
        str,
        typer.Option("--mode", envvar="ASMAN_WORKER_MODE", help="remote, or local (server + worker here)."),
    ] = "remote",
    port: Annotated[
        int, typer.Option("--port", envvar="ASMAN_WORKER_PORT", help="Local mode: server port.")
    ] = 8000,
    host: Annotated[
        str, typer.Option("--host", envvar="ASMAN_WORKER_HOST", help="Local mode: bind address.")
    ] = ("127.0.0.1"),
    network: Annotated[
        str,
        typer.Option(
            "--network", envvar="ASMAN_WORKER_NETWORK", help="Job network: none, or a Docker network."
        ),
    ] = "none",
    max_output_size: Annotated[
        str,
        typer.Option("--max-output-size", envvar="ASMAN_WORKER_MAX_OUTPUT_SIZE", help="Outputs cap per job."),
    ] = "1g",
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="ASMAN_WORKER_TOKEN", help="The queue's worker token, if any."),
    ] = None,
    allow_private_urls: Annotated[
        bool,
        typer.Option(
            "--allow-private-urls",
            envvar="ASMAN_WORKER_ALLOW_PRIVATE_URLS",
            help="Let jobs fetch inputs from loopback/private addresses.",
        ),
    ] = False,
    grace_period: Annotated[
        str,
        typer.Option("--grace-period", envvar="ASMAN_WORKER_GRACE_PERIOD", help="SIGTERM: time to finish."),
    ] = "30s",
) -> None:
    if mode not in ("remote", "local"):
        raise typer.BadParameter("--mode must be 'remote' or 'local'")
    if mode == "remote" and not queue:
        raise typer.BadParameter("name the queue to work for: asman worker QUEUE (or --mode local)")
    if mode == "local":
        require_extras("asman worker --mode local", "server", "worker")
    else:
        require_extras("asman worker", "worker")
    from asman.worker.daemon import WorkerSettings

    data_dir = data_directory or DEFAULT_DATA_DIR / "worker"
    api = f"http://127.0.0.1:{port}" if mode == "local" else api_address.rstrip("/")
    options: dict[str, object] = {
        "api_url": api,
        "queue": queue or "local",
        "data_dir": data_dir.resolve(),
        "slots": max(1, cpus),
        "gpu_ids": parse_gpus(gpus),
        "max_job_duration_s": parse_duration(max_job_duration),
        "max_output_bytes": parse_size(max_output_size),
        "network": network,
        "grace_seconds": parse_duration(grace_period),
        "token": token,
        "allow_private_urls": allow_private_urls,
    }
    if worker_id:
        options["worker_id"] = worker_id
    settings = WorkerSettings(**options)  # type: ignore[arg-type]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(settings, local=mode == "local", host=host, port=port, data_dir=data_dir))


async def _serve(settings: object, *, local: bool, host: str, port: int, data_dir: Path) -> None:
    from asman.worker.daemon import WorkerDaemon, WorkerSettings, install_signal_handlers
    from asman.worker.runtimes import DockerRuntime, RuntimeUnavailable

    assert isinstance(settings, WorkerSettings)
    runtime = DockerRuntime()
    try:
        await runtime.check()
    except RuntimeUnavailable as exc:
        typer.secho(f"asman worker: {exc.message}", err=True, fg="red")
        raise typer.Exit(2) from None
    server: uvicorn.Server | None = None
    server_task: asyncio.Task[None] | None = None
    if local:
        import uvicorn

        from asman.server.app import create_app
        from asman.settings import Settings

        server_settings = Settings.from_env(data_dir=data_dir, host=host, port=port)
        config = uvicorn.Config(
            create_app(server_settings),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            ws_max_size=32 * 1024 * 1024,
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        # The worker owns SIGTERM/SIGINT in local mode: it drains its jobs first, then stops the server.
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        server_task = asyncio.create_task(server.serve())
        while not server.started:
            if server_task.done():
                await server_task
                raise typer.Exit(1)
            await asyncio.sleep(0.05)
        typer.echo(f"Asman (local mode) on http://{host}:{port}  queue: {settings.queue}  data: {data_dir}")
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
    finally:
        await runtime.close()
        if server is not None and server_task is not None:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await server_task
