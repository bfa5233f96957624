"""The `asman` command: thin typer commands over the settings, the server, the worker and the client."""

from __future__ import annotations

import typer

from asman.cli import jobs, queues, serve, work

app = typer.Typer(
    name="asman",
    help="Public compute queues: push containerized jobs to a queue URL; workers anyone runs take them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Asman: public compute queues."""


# Every command module imports only the base install at module level: `asman server` and `asman worker`
# import the server and the worker when they run, after checking that their extra is installed.
app.command("server", help="Run the queue server (API + web client).")(serve.server)
app.command("worker", help="Run a worker: take jobs from a queue and run them in containers.")(work.worker)
app.add_typer(jobs.app, name="job", help="Submit and watch jobs.")
app.add_typer(queues.app, name="queue", help="Create and inspect queues.")


def main() -> None:
    app()
