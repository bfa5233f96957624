"""`asman server`: the queue server on one machine (SQLite + files by default)."""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from asman.cli._extras import require_extras
from asman.settings import Settings


def build_settings(
    data_directory: Path | None, host: str | None, port: int | None, ttl: str | None = None
) -> Settings:
    overrides: dict[str, Any] = {"data_dir": data_directory, "host": host, "port": port}
    if ttl is not None:
        from asman.core.units import parse_duration

        overrides["ttl_seconds"] = parse_duration(ttl)
    return Settings.from_env(**overrides)


def run_server(settings: Settings) -> None:
    import uvicorn

    from asman.server.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    # Everything imported so far lives as long as the process: keep it out of the cyclic collector's full
    # passes, which otherwise walk it all and stall the event loop for tens of milliseconds now and then.
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        # "auto" picks uvloop and httptools, both in the server extra (uvloop everywhere but Windows).
        loop="auto",
        http="auto",
        ws_max_size=32 * 1024 * 1024,
        timeout_graceful_shutdown=5,
    )


def server(
    data_directory: Annotated[
        Path | None,
        typer.Option("--data-directory", envvar="ASMAN_DATA_DIR", help="Where SQLite and blobs live."),
    ] = None,
    host: Annotated[str | None, typer.Option("--host", envvar="ASMAN_HOST", help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option("--port", envvar="ASMAN_PORT", help="Bind port.")] = None,
    ttl: Annotated[
        str | None,
        typer.Option("--ttl", envvar="ASMAN_TTL", help="How long jobs, results and blobs live (30d)."),
    ] = None,
) -> None:
    require_extras("asman server", "server")
    settings = build_settings(data_directory, host, port, ttl)
    typer.echo(f"Asman server on http://{settings.host}:{settings.port}  (data: {settings.data_dir})")
    run_server(settings)
