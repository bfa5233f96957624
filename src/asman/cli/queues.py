"""`asman queue ...`: mint a private queue, see a queue's counts and workers, read its metrics."""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer

from asman.cli._output import ApiOption, JsonOption, ago, connect, friendly_errors, print_json, stderr, stdout
from asman.client._base import DEFAULT_URL

app = typer.Typer(no_args_is_help=True, help="Create queues and see what they hold.")

QueueArg = Annotated[str, typer.Argument(metavar="QUEUE", help="The queue's name.")]
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(?P<value>\S+)")


@app.command("new")
@friendly_errors
def new(api: ApiOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """Mint a fresh, unguessable queue name (a private queue); print it."""
    client = connect(api)
    queue = client.new_queue()
    if as_json:
        print_json({"queue": queue.name, "url": queue.url})
        return
    sys.stdout.write(queue.name + "\n")
    stderr().print(
        f"New queue: {queue.url}\n"
        f"  Run jobs on it:   asman job add {queue.name} --image IMAGE -c COMMAND --wait\n"
        f"  Start a worker:   asman worker {queue.name} --api-address {client.url}"
    )


@app.command("status")
@friendly_errors
def status(queue: QueueArg, api: ApiOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """Jobs by state, the workers connected (slots, running jobs) and the live watchers."""
    client = connect(api)
    data = client.queue(queue).status()
    if as_json:
        print_json(data)
        return
    from rich.table import Table

    out = stdout()
    counts = data.get("counts") or {}
    summary = ", ".join(
        f"{counts.get(state, 0)} {state.lower()}" for state in ("Queued", "Running", "Finished")
    )
    out.print(f"[bold]Queue {queue}[/]: {summary}; {data.get('clients', 0)} watching")
    workers = data.get("workers") or []
    if not workers:
        out.print(f"No worker connected. Start one with: asman worker {queue} --api-address {client.url}")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("WORKER", "SLOTS", "GPUS", "RUNNING", "LAST SEEN"):
        table.add_column(column, no_wrap=True)
    for worker in workers:
        running = worker.get("running") or []
        table.add_row(
            str(worker.get("id", "?")),
            str(worker.get("slots", "")),
            str(worker.get("gpus", 0)),
            ", ".join(job[:12] for job in running) or "-",
            ago(int(worker.get("lastSeen") or 0)),
        )
    out.print(table)


@app.command("metrics")
@friendly_errors
def metrics(queue: QueueArg, api: ApiOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """The queue's Prometheus metrics (asman_queue_length, jobs by state, workers, durations)."""
    text = connect(api).queue(queue).metrics()
    if not as_json:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    samples: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and not line.startswith("#"):
            try:
                samples[match["name"]] = float(match["value"])
            except ValueError:
                continue
    print_json(samples)
