"""`asman job ...`: submit jobs, watch them, fetch their logs and outputs. Thin commands over `asman.Client`.

Output rules: what a command produces goes to stdout (`--json` makes it machine-readable); progress, notes and
errors go to stderr. A job's own stdout and stderr lines go to stdout and stderr. Exit codes (see docs/cli.md):
0 success, the container's own exit code when it is not 0, 124 timed out, 125 the job could not run (Error,
WorkerLost), 130 cancelled or interrupted, 1 any other error, 2 a usage error.

The helpers at the top (options, output, error handling) are shared with `asman queue ...` (queues.py).
"""

from __future__ import annotations

import functools
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

from asman.client._base import API_ENV, DEFAULT_URL
from asman.core.errors import AsmanError

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

    from asman.client import Client, Job, JobResult, JobStatus, LogLine

app = typer.Typer(no_args_is_help=True, help="Submit jobs to a queue and watch them.")

# -- shared with queues.py ------------------------------------------------------------------------------------

EXIT_ERROR = 1
EXIT_TIMED_OUT = 124
EXIT_NOT_RUN = 125
EXIT_CANCELLED = 130

ApiOption = Annotated[
    str,
    typer.Option("--api", envvar=API_ENV, help="The Asman server's address.", rich_help_panel="Server"),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Machine-readable JSON on stdout (progress stays on stderr).")
]

P = ParamSpec("P")
R = TypeVar("R")


def stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout() -> Console:
    from rich.console import Console

    # Piped output is not cut to 80 columns: scripts and `less -S` get whole lines.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    from rich.markup import escape

    stderr().print(f"[bold red]Error:[/] {escape(message)}")
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Errors a user can fix are one red line on stderr and exit code 1, never a traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        from asman.client import ServerUnreachable, WaitTimeout

        try:
            return command(*args, **kwargs)
        except ServerUnreachable as error:
            fail(
                f"cannot reach the Asman server at {error.url} ({error.cause}).\n"
                "  Start one on this machine with `make run` (server and local worker) or `asman worker --mode local`,"
                f"\n  or point --api / {API_ENV} at a running server."
            )
        except WaitTimeout as error:
            fail(error.message, EXIT_TIMED_OUT)
        except AsmanError as error:
            fail(error.message)
        except KeyboardInterrupt:
            stderr().print("Interrupted.")
            raise typer.Exit(EXIT_CANCELLED) from None
        except OSError as error:
            fail(str(error))

    return run


def connect(api: str) -> Client:
    from asman.client import Client

    # Fewer retries than the SDK default: a person at a terminal wants to hear quickly that nothing answers.
    return Client(api, retries=2)


def ago(epoch_ms: int) -> str:
    if not epoch_ms:
        return "-"
    seconds = max(0.0, time.time() - epoch_ms / 1000)
    if seconds < 60:
        return f"{seconds:.0f}s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m ago"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h ago"
    return datetime.fromtimestamp(epoch_ms / 1000).strftime("%Y-%m-%d %H:%M")


def seconds_text(ms: int | None) -> str:
    if ms is None:
        return ""
    return f"{ms / 1000:.1f} s" if ms < 60_000 else f"{ms // 60_000} min {ms % 60_000 // 1000} s"


# -- job helpers ----------------------------------------------------------------------------------------------

_JOB_URL = re.compile(r"^(?P<api>https?://.+?)/q/(?P<queue>[^/]+)/j/(?P<job>[0-9a-f]{64})/?$")
_ID_PREFIX = re.compile(r"^[0-9a-f]{4,63}$")
PREFIX_SCAN_LIMIT = 10_000
JobArg = Annotated[str, typer.Argument(metavar="QUEUE", help="The job's queue (or the job's URL, alone).")]
JobIdArg = Annotated[
    str | None,
    typer.Argument(metavar="JOB_ID", help="The job's id, or its first characters.", show_default=False),
]


def find_job(api: str, queue: str, job_id: str | None) -> Job:
    """`QUEUE JOB_ID` (a unique prefix of the id will do, as `job list` shows them), or the job's URL such as
    http://127.0.0.1:8000/q/local/j/<id> (whose server wins over --api)."""
    if job_id is None:
        match = _JOB_URL.match(queue)
        if not match:
            raise typer.BadParameter(
                "give the queue and the job id (asman job status QUEUE JOB_ID), or the job's URL",
                param_hint="JOB_ID",
            )
        api, queue, job_id = match["api"], match["queue"], match["job"]
    client = connect(api)
    if _ID_PREFIX.match(job_id):
        found = {
            job.job_id
            for job in client.queue(queue).jobs(limit=PREFIX_SCAN_LIMIT)
            if job.job_id.startswith(job_id)
        }
        if not found:
            fail(f"no job whose id starts with {job_id} in queue {queue}: see `asman job list {queue}`")
        if len(found) > 1:
            fail(f"{len(found)} jobs in queue {queue} have ids starting with {job_id}: give more characters")
        job_id = found.pop()
    return client.job(queue, job_id)


def exit_code(result: JobResult) -> int:
    from asman.core.states import FinishedReason

    if result.reason is FinishedReason.SUCCESS:
        code = result.exit_code or 0
        return code if 0 <= code <= 255 else EXIT_ERROR
    if result.reason is FinishedReason.TIMED_OUT:
        return EXIT_TIMED_OUT
    if result.reason in (FinishedReason.ERROR, FinishedReason.WORKER_LOST):
        return EXIT_NOT_RUN
    return EXIT_CANCELLED


def result_json(job: Job, result: JobResult, saved: list[Path] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "jobId": job.id,
        "queue": job.queue,
        "url": job.url,
        "state": "Finished",
        "finishedReason": result.reason.value,
        "exitCode": result.exit_code,
        "error": result.error,
        "durationMs": result.duration_ms,
        "worker": result.worker,
        "outputs": sorted(result.outputs),
    }
    if saved is not None:
        data["saved"] = [str(path) for path in saved]
    return data


def describe_state(status: JobStatus) -> str:
    if status.reason is not None:
        return f"{status.state} ({status.reason})"
    if status.worker and status.state == "Running":
        return f"Running on worker {status.worker}"
    return str(status.state)


class _Spinner:
    """A status line whose elapsed time ticks while the spinner turns (rendered by rich's Live)."""

    def __init__(self, message: str) -> None:
        from rich.spinner import Spinner

        self.message = message
        self.started = time.monotonic()
        self.spinner = Spinner("dots", style="cyan")

    def __rich__(self) -> RenderableType:
        from rich.text import Text

        elapsed = time.monotonic() - self.started
        self.spinner.update(text=Text.assemble(self.message, (f"  {elapsed:.0f}s", "dim")))
        return self.spinner


class Progress:
    """Progress on stderr: a live spinner line on a terminal, plain note lines otherwise.

    A job's log lines go to stdout or stderr as the job wrote them; on a terminal they scroll above the spinner."""

    def __init__(self) -> None:
        self.err = stderr()
        self.live: Live | None = None
        self.status = _Spinner("")
        self.last_note = ""

    def __enter__(self) -> Progress:
        if self.err.is_terminal:
            from rich.live import Live

            self.live = Live(
                self.status,
                console=self.err,
                transient=True,
                refresh_per_second=8,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self.live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Remove the spinner line (what follows is printed for good)."""
        if self.live is not None:
            self.live.stop()
            self.live = None

    def update(self, message: str, *, note: bool = True) -> None:
        """The current step: shown on the spinner line, or as a note when there is no terminal (and `note`)."""
        if message != self.status.message:
            self.status.started = time.monotonic()  # the time shown is the time spent in this step
        self.status.message = message
        if self.live is None and note and message != self.last_note:
            self.err.print(f"[dim]{message}[/]")
        self.last_note = message

    def note(self, message: str) -> None:
        """A line that stays (markup allowed)."""
        self.err.print(message)

    def log(self, line: LogLine, *, logs_to_stderr: bool = False) -> None:
        if line.stderr or logs_to_stderr:
            if self.live is not None:
                self.err.out(line.text, highlight=False)
            else:
                sys.stderr.write(line.text + "\n")
                sys.stderr.flush()
        elif self.live is not None and sys.stdout.isatty():
            # The same terminal: go through the live display so the spinner line stays below the logs.
            self.err.out(line.text, highlight=False)
        else:
            sys.stdout.write(line.text + "\n")
            sys.stdout.flush()


def _no_worker_hint(job: Job, progress: Progress) -> None:
    """A newcomer's most likely surprise: nothing runs because no worker listens on this queue."""
    try:
        workers = job.client.queue(job.queue).status().get("workers") or []
    except AsmanError:
        return
    if not workers:
        progress.note(
            f"[yellow]No worker is connected to queue {job.queue!r} yet:[/] the job waits until one is. Start one"
            f" with [bold]asman worker {job.queue} --api-address {job.client.url}[/]"
            + (" (or `asman worker --mode local`)" if job.queue == "local" else "")
        )


def follow(
    job: Job, progress: Progress, *, show_logs: bool, logs_to_stderr: bool, timeout: float | None
) -> JobResult:
    """Watch the job until it finishes: state on the status line, logs as they come."""
    from asman.client import Finished, LogsWritten, StateChanged
    from asman.core.states import JobState

    short = job.id[:12]
    hinted = first = False
    for event in job.events(timeout):
        if isinstance(event, StateChanged):
            status = event.status
            if (
                not first
                and status.finished
                and status.reason is not None
                and status.reason.value == "Success"
            ):
                progress.note(
                    f"[dim]This exact job already ran: showing its stored result"
                    f" (`asman job delete {job.queue} {short}` makes the next submit run it again).[/]"
                )
            first = True
            if status.state is JobState.QUEUED:
                progress.update(f"Job {short} queued in {job.queue}, waiting for a worker")
                if not hinted:
                    hinted = True
                    _no_worker_hint(job, progress)
            elif status.state is JobState.RUNNING:
                progress.update(f"Job {short} running on worker {status.worker or '?'}")
        elif isinstance(event, LogsWritten) and show_logs:
            for line in event.lines:
                progress.log(line, logs_to_stderr=logs_to_stderr)
        elif isinstance(event, Finished):
            return event.result
    raise AsmanError(f"the event stream of job {job.id} ended without a result")  # pragma: no cover


def summarize(job: Job, result: JobResult, progress: Progress) -> None:
    from rich.markup import escape

    from asman.core.states import FinishedReason

    took = f" in {seconds_text(result.duration_ms)}" if result.duration_ms else ""
    where = f" on worker {result.worker}" if result.worker else ""
    if result.ok:
        progress.note(f"[green]✔[/] Job {job.id[:12]} succeeded{took}{where}.")
    elif result.reason is FinishedReason.SUCCESS:
        progress.note(f"[red]✘[/] Job {job.id[:12]} exited with code {result.exit_code}{took}{where}.")
    else:
        what = result.describe().partition(":")[0]
        progress.note(f"[red]✘[/] Job {job.id[:12]} {what}{took}{where}" + (":" if result.error else "."))
        if result.error:
            progress.note("  " + escape(result.error))
        progress.note(f"  [dim]Details: asman job get {job.queue} {job.id}[/]")


@contextmanager
def interruptible(job: Job, progress: Progress | None = None) -> Iterator[None]:
    """Ctrl-C stops watching, not the job: say so, and how to stop the job too."""
    try:
        yield
    except KeyboardInterrupt:
        if progress is not None:
            progress.stop()
        stderr().print(
            f"\nStopped watching. The job goes on; stop it with: asman job cancel {job.queue} {job.id}"
        )
        raise typer.Exit(EXIT_CANCELLED) from None


def finish(job: Job, result: JobResult, progress: Progress, outputs: Path | None, as_json: bool) -> NoReturn:
    saved: list[Path] | None = None
    if outputs is not None:
        if result.outputs:
            progress.update(f"Downloading {len(result.outputs)} output(s) to {outputs}")
            saved = job.download(outputs)
        else:
            saved = []
    progress.stop()
    if not as_json:
        summarize(job, result, progress)
        if saved and outputs is not None:
            names = ", ".join(path.relative_to(outputs).as_posix() for path in saved)
            progress.note(f"  Saved {len(saved)} output(s) to {outputs}: {names}")
        elif outputs is not None:
            progress.note("  The job wrote no outputs.")
    if as_json:
        print_json(result_json(job, result, saved))
    raise typer.Exit(exit_code(result))


def parse_env(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--env")
        env[key] = value
    return env


def read_definition(source: str | None) -> dict[str, Any] | None:
    if source is None:
        return None
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as error:
        raise typer.BadParameter(f"cannot read {source}: {error.strerror}", param_hint="DEFINITION") from None
    where = "stdin" if source == "-" else source
    try:
        data = json.loads(text)
    except ValueError as error:
        fail(
            f"the job definition on {where} is not JSON ({error}): give an object such as"
            ' {"image": "alpine:3.19", "command": "echo hello"}'
        )
    if not isinstance(data, dict):
        fail(f"the job definition on {where} must be a JSON object, not {type(data).__name__}")
    return data


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
    api: ApiOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Submit a job to QUEUE. Prints the job id; with --wait, its logs live, then how it ended.

    Example: asman job add local -m alpine:3.19 -f data.csv -c 'wc -l /inputs/data.csv' --wait
    """
    body = read_definition(definition)
    variables = parse_env(env or [])
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
                stream.write(line.text + "\n")
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
