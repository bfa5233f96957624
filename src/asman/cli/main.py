"""The `asman` command: thin typer commands over the settings, the server, the worker and the client."""

from __future__ import annotations

from typing import Annotated

import typer

from asman.cli import agent, db, jobs, queues, serve, work

app = typer.Typer(
    name="asman",
    help="Public compute queues: push containerized jobs to a queue URL; workers anyone runs take them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        from asman._version import __version__

        typer.echo(f"asman {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Asman: public compute queues."""


# Every command module imports only the base install at module level: `asman server` and `asman worker`
# import the server and the worker when they run, after checking that their extra is installed.
app.command("server", help="Run the queue server (API + web client).")(serve.server)
app.command("worker", help="Run a worker: take jobs from a queue and run them in containers.")(work.worker)
app.add_typer(jobs.app, name="job", help="Submit and watch jobs.")
app.add_typer(queues.app, name="queue", help="Create and inspect queues.")
app.add_typer(db.app, name="db", help="See and apply the queue store's migrations (operators).")
app.command("mcp", help="Serve the MCP tools over stdio, for desktop agents.")(agent.mcp)


def main() -> None:
    app()
