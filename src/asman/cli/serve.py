"""`asman server`: the queue server on one machine (SQLite + files by default)."""

from __future__ import annotations

import gc

import typer

from asman.cli._extras import require_extras
from asman.cli._logging import uvicorn_logging
from asman.cli._settings import settings_command, start_logging
from asman.settings import Scope, Settings


def run_server(settings: Settings) -> None:
    import uvicorn

    from asman.server.app import create_app
    from asman.server.slow_clients import http_protocol

    app = create_app(settings)
    # Everything imported so far lives as long as the process: keep it out of the cyclic collector's full
    # passes, which otherwise walk it all and stall the event loop for tens of milliseconds now and then.
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        # "auto" picks uvloop, and the protocol is httptools's, both in the server extra (uvloop everywhere but
        # Windows).
        loop="auto",
        http=http_protocol(settings.header_timeout),
        # The client address is decided in one place, by ASMAN_TRUSTED_PROXIES (server/limits.py).
        proxy_headers=False,
        ws_max_size=32 * 1024 * 1024,
        ws_per_message_deflate=False,
        # Messages a socket may have waiting before the server stops reading it (uvicorn's default is 32).
        ws_max_queue=8,
        timeout_graceful_shutdown=5,
        **uvicorn_logging(settings),
    )


@settings_command(Scope.SERVER)
def server(settings: Settings) -> None:
    require_extras("asman server", "server")
    start_logging(settings)
    typer.echo(f"Asman server on http://{settings.host}:{settings.port}  (data: {settings.data_dir})")
    run_server(settings)
