"""`asman job ...`: submit jobs, watch them, fetch their logs and outputs. Thin commands over `asman.Client`.

Output rules: what a command produces goes to stdout (`--json` makes it machine-readable); progress, notes and
errors go to stderr. A job's own stdout and stderr lines go to stdout and stderr. Exit codes (see docs/cli.md):
0 success, the container's own exit code when it is not 0, 124 timed out, 125 the job could not run (Error,
WorkerLost), 130 cancelled or interrupted, 1 any other error, 2 a usage error.

The shared helpers (options, output, error handling) live in `_output.py`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from asman.cli._definition import parse_pairs, read_definition, with_build
from asman.cli._output import (
    ApiOption,
    JsonOption,
    ago,
    connect,
    friendly_errors,
    print_json,
    stderr,
    stdout,
)
from asman.cli._sweep import expand, read_lines, run_sweep
from asman.cli._watch import (
    JobArg,
    JobIdArg,
    Progress,
    describe_state,
    find_job,
    finish,
    follow,
    interruptible,
)
from asman.client import DEFAULT_URL

app = typer.Typer(no_args_is_help=True, help="Submit jobs to a queue and watch them.")

# -- commands -------------------------------------------------------------------------------------------------


@app.command("add")
@friendly_errors
def add(
    queue: Annotated[
        str,
        typer.Argument(metavar="QUEUE", help="The queue to push the job to (any name; it exists once used)."),
    ],
    definition: Annotated[
        str | None,
        typer.Argument(
            metavar="[-|FILE]",
            help="A JSON job definition: '-' reads stdin. Options override it.",
            show_default=False,
        ),
    ] = None,
    image: Annotated[str | None, typer.Option("--image", "-m", help="The container image to run.")] = None,
    git: Annotated[
        str | None,
        typer.Option(
            "--git",
            "-r",
            metavar="URL",
            help="Build the image from this git repository (or tarball/zip URL) instead of --image.",
            show_default=False,
        ),
    ] = None,
    dockerfile: Annotated[
        Path | None,
        typer.Option(
            "--dockerfile",
            metavar="FILE",
            help="Build the image from this Dockerfile, sent inline (with --git: instead of the repository's).",
            show_default=False,
        ),
    ] = None,
    build_args: Annotated[
        list[str] | None,
        typer.Option(
            "--build-arg",
            metavar="KEY=VALUE",
            help="A build argument for --git or --dockerfile (repeatable).",
            show_default=False,
        ),
    ] = None,
    files: Annotated[
        list[Path] | None,
        typer.Option(
            "--file",
            "-f",
            help="A file or folder the job reads under /inputs (repeatable).",
            show_default=False,
        ),
    ] = None,
    command: Annotated[
        str | None, typer.Option("--command", "-c", help="The command, split like a shell would.")
    ] = None,
    entrypoint: Annotated[
        str | None, typer.Option("--entrypoint", help="Override the image's entrypoint.")
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            "-e",
            metavar="KEY=VALUE",
            help="An environment variable (repeatable).",
            show_default=False,
        ),
    ] = None,
    workdir: Annotated[
        str | None, typer.Option("--workdir", help="The working directory in the container.")
    ] = None,
    cpus: Annotated[float | None, typer.Option("--cpus", help="CPUs the job needs, e.g. 2 or 0.5.")] = None,
    memory: Annotated[
        str | None, typer.Option("--memory", help="Memory the job needs, e.g. 512m or 4g.")
    ] = None,
    gpus: Annotated[int | None, typer.Option("--gpus", help="GPUs the job needs.")] = None,
    max_duration: Annotated[
        str | None, typer.Option("--max-duration", help="Stop the job after this long, e.g. 90s, 20m, 1h.")
    ] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", help="Who wants the job (default _); see docs/cli.md.")
    ] = None,
    rerun: Annotated[
        bool,
        typer.Option(
            "--rerun",
            help="Run it again even if this exact job already succeeded (its kept result is dropped).",
        ),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option("--wait", "-w", help="Stream the logs until the job finishes; exit with its exit code."),
    ] = False,
    outputs: Annotated[
        Path | None,
        typer.Option(
            "--outputs",
            "-o",
            metavar="DIR",
            help="Save the outputs to DIR when done (implies --wait).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="With --wait: give up waiting after this many seconds.")
    ] = None,
    axes: Annotated[
        list[str] | None,
        typer.Option(
            "--matrix",
            metavar="NAME=A,B,...",
            help="A sweep: one job per value, {NAME} replaced in the command and env and $NAME set"
            " (repeatable: every combination).",
            show_default=False,
        ),
    ] = None,
    from_file: Annotated[
        str | None,
        typer.Option(
            "--from-file",
            metavar="FILE",
            help="A sweep: one job per line of this NDJSON file ('-' reads stdin), the options laid over each.",
            show_default=False,
        ),
    ] = None,
    api: ApiOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Submit a job to QUEUE. Prints the job id; with --wait, its logs live, then how it ended.

    Example: asman job add local -m alpine:3.19 -f data.csv -c 'wc -l /inputs/data.csv' --wait

    Or build the image: asman job add local --git https://github.com/o/r --build-arg V=1 -c 'make test' --wait

    A sweep: asman job add local -m alpine:3.19 -c 'echo {N}' --matrix N=1,2,3 --wait
    """
    variables = parse_pairs(env or [], "--env")
    if axes or from_file is not None:
        if from_file is not None and definition is not None:
            raise typer.BadParameter(
                "give the definitions in --from-file, or one definition as [-|FILE]: not both",
                param_hint="--from-file",
            )
        if files or rerun or outputs:
            raise typer.BadParameter(
                "--file, --rerun and --outputs are for one job: give a sweep's inputs by URL in --from-file",
                param_hint="--matrix/--from-file",
            )
        bases = read_lines(from_file) if from_file is not None else [read_definition(definition)]
        built = [
            with_build(base, image=image, git=git, dockerfile=dockerfile, build_args=build_args or [])
            for base in bases
        ]
        fields = {
            "image": image,
            "command": command,
            "env": variables,
            "entrypoint": entrypoint,
            "workdir": workdir,
            "cpus": cpus,
            "memory": memory,
            "gpus": gpus,
            "max_duration": max_duration,
        }
        submissions, labels = expand(built, axes or [], fields)
        run_sweep(
            api, queue, submissions, labels, namespace=namespace, wait=wait, timeout=timeout, as_json=as_json
        )
        return
    body = with_build(
        read_definition(definition), image=image, git=git, dockerfile=dockerfile, build_args=build_args or []
    )
    client = connect(api)
    with Progress() as progress:
        progress.update(f"Submitting to {client.url}/q/{queue}", note=False)
        job = client.queue(queue).submit(
            image=image,
            command=command,
            files=files or [],
            env=variables,
            entrypoint=entrypoint,
            workdir=workdir,
            cpus=cpus,
            memory=memory,
            gpus=gpus,
            max_duration=max_duration,
            namespace=namespace,
            definition=body,
            rerun=rerun,
        )
        if not (wait or outputs):
            status = job.status()
            progress.stop()
            if as_json:
                print_json(
                    {
                        "jobId": job.id,
                        "queue": job.queue,
                        "url": job.url,
                        "state": status.state.value,
                        "finishedReason": status.reason.value if status.reason else None,
                    }
                )
                return
            progress.note(f"Job {describe_state(status).lower()} in queue {job.queue}: {job.url}")
            sys.stdout.write(job.id + "\n")
            return
        if not as_json:
            progress.note(f"[dim]Job {job.id} in queue {job.queue}: {job.url}[/]")
        with interruptible(job, progress):
            result = follow(job, progress, show_logs=True, logs_to_stderr=as_json, timeout=timeout)
            finish(job, result, progress, outputs, as_json)


@app.command("status")
@friendly_errors
def status(
    queue: JobArg, job_id: JobIdArg = None, api: ApiOption = DEFAULT_URL, as_json: JsonOption = False
) -> None:
    """Where a job is: Queued, Running (on which worker), or Finished (and how)."""
    job = find_job(api, queue, job_id)
    current = job.status()
    if as_json:
        print_json(current.raw)
        return
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("[bold]job[/]", job.id)
    grid.add_row("[bold]queue[/]", job.queue)
    state = describe_state(current)
    if current.finished:
        result = job.result()
        if result is not None:
            state = f"Finished: {result.describe()}"
    grid.add_row("[bold]state[/]", state)
    if current.worker:
        grid.add_row("[bold]worker[/]", f"{current.worker} (attempt {current.attempt})")
    grid.add_row("[bold]queued[/]", ago(current.queued_ms))
    grid.add_row("[bold]updated[/]", ago(current.updated_ms))
    grid.add_row("[bold]url[/]", job.url)
    stdout().print(grid)


@app.command("logs")
@friendly_errors
def logs(
    queue: JobArg,
    job_id: JobIdArg = None,
    follow_: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until the job ends.")
    ] = False,
    api: ApiOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """A job's logs: its stdout lines on stdout, its stderr lines on stderr (--json: JSON lines on stdout)."""
    job = find_job(api, queue, job_id)
    count = 0
    with interruptible(job):
        for count, line in enumerate(job.logs(follow=follow_), 1):  # noqa: B007
            if as_json:
                sys.stdout.write(
                    json.dumps(
                        {"text": line.text, "time": line.time_ms, "stderr": line.stderr, "step": line.step},
                        ensure_ascii=False,
                    )
                    + "\n"
                )
            else:
                stream = sys.stderr if line.stderr else sys.stdout
                stream.write(line.written)
                stream.flush()
    if not count and not as_json:
        current = job.status()
        hint = "" if current.finished or follow_ else " yet (follow them with -f)"
        stderr().print(f"[dim]Job {job.id[:12]} is {describe_state(current)}: no logs{hint}.[/]")


@app.command("wait")
@friendly_errors
def wait_(
    queue: JobArg,
    job_id: JobIdArg = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Give up after this many seconds (exit 124).")
    ] = None,
    show_logs: Annotated[bool, typer.Option("--logs", help="Also stream the job's logs.")] = False,
    outputs: Annotated[
        Path | None, typer.Option("--outputs", "-o", metavar="DIR", help="Save the outputs to DIR when done.")
    ] = None,
    api: ApiOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Wait for a job to finish; exit with its exit code (see docs/cli.md for the codes)."""
    job = find_job(api, queue, job_id)
    with Progress() as progress, interruptible(job, progress):
        result = follow(job, progress, show_logs=show_logs, logs_to_stderr=as_json, timeout=timeout)
        finish(job, result, progress, outputs, as_json)


app.command("await", help="The same as `asman job wait` (upstream's name for it).")(wait_)


@app.command("cancel")
@friendly_errors
def cancel(
    queue: JobArg,
    job_id: JobIdArg = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", help="Withdraw only this namespace's interest ('*' for all).")
    ] = None,
    api: ApiOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Cancel a job: it stops when no namespace wants it any more."""
    job = find_job(api, queue, job_id)
    current = job.cancel(namespace)
    if as_json:
        print_json(current.raw)
        return
    if current.finished and current.reason is not None and current.reason.value == "Cancelled":
        stderr().print(f"Cancelled job {job.id[:12]}.")
    elif current.finished:
        stderr().print(f"Job {job.id[:12]} had already finished ({current.reason}); nothing to cancel.")
    else:
        stderr().print(
            f"Job {job.id[:12]} is still {current.state}: another namespace wants it"
            f" (cancel them all with --namespace '*')."
        )


@app.command("outputs")
@friendly_errors
def outputs_(
    queue: JobArg,
    job_id: JobIdArg = None,
    directory: Annotated[
        Path, typer.Option("--outputs", "-o", metavar="DIR", help="Where to save the outputs.")
    ] = Path("."),
    api: ApiOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Save a finished job's output files under DIR (default: here), keeping their paths; print each path."""
    job = find_job(api, queue, job_id)
    saved = job.download(directory)
    if as_json:
        print_json({"jobId": job.id, "saved": [str(path) for path in saved]})
        return
    for path in saved:
        sys.stdout.write(f"{path}\n")
    if not saved:
        stderr().print(f"Job {job.id[:12]} wrote no outputs.")


@app.command("list")
@friendly_errors
def list_(
    queue: Annotated[str, typer.Argument(metavar="QUEUE", help="The queue.")],
    state: Annotated[
        str | None, typer.Option("--state", help="Only jobs in this state: Queued, Running or Finished.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many jobs.")] = 100,
    api: ApiOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """The jobs in a queue, most recently changed first (ids shortened: any unique prefix works elsewhere)."""
    jobs = connect(api).queue(queue).jobs(state=state, limit=limit)
    if as_json:
        print_json([job.raw for job in jobs])
        return
    if not jobs:
        stderr().print(f"No {state + ' ' if state else ''}jobs in queue {queue}.")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("JOB", "STATE", "REASON", "QUEUED", "UPDATED", "WORKER"):
        table.add_column(column, no_wrap=True, overflow="ellipsis" if column == "WORKER" else "fold")
    colors = {"Queued": "yellow", "Running": "cyan", "Finished": "green"}
    for job in jobs:
        reason = job.reason.value if job.reason else ""
        color = "red" if reason and reason != "Success" else colors.get(job.state.value, "")
        table.add_row(
            job.job_id[:12],
            f"[{color}]{job.state.value}[/]" if color else job.state.value,
            reason,
            ago(job.queued_ms),
            ago(job.updated_ms),
            job.worker,
        )
    stdout().print(table)


@app.command("get")
@friendly_errors
def get(
    queue: JobArg, job_id: JobIdArg = None, api: ApiOption = DEFAULT_URL, as_json: JsonOption = False
) -> None:
    """Everything about a job as JSON: state, definition and result (--json is accepted and changes nothing)."""
    job = find_job(api, queue, job_id)
    print_json(job.info())


@app.command("delete")
@friendly_errors
def delete(
    queue: JobArg, job_id: JobIdArg = None, api: ApiOption = DEFAULT_URL, as_json: JsonOption = False
) -> None:
    """Delete a job's result (and stop it if it runs): the next identical submit runs it again."""
    job = find_job(api, queue, job_id)
    job.delete()
    if as_json:
        print_json({"jobId": job.id, "queue": job.queue, "deleted": True})
    else:
        stderr().print(f"Deleted job {job.id[:12]}.")
