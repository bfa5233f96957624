"""Watching a job from the terminal: finding it, following its events with a status line, summing up."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from asman.core.errors import AsmanError

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.live import Live

    from asman.client import Job, JobResult, JobStatus, LogLine

from asman.cli._output import (
    EXIT_CANCELLED,
    EXIT_ERROR,
    EXIT_NOT_RUN,
    EXIT_TIMED_OUT,
    connect,
    fail,
    print_json,
    seconds_text,
    stderr,
)

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
    if status.reason is not None and status.exit_code:
        return f"{status.state} ({status.reason}, exit code {status.exit_code})"
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
                sys.stderr.write(line.written)
                sys.stderr.flush()
        elif self.live is not None and sys.stdout.isatty():
            # The same terminal: go through the live display so the spinner line stays below the logs.
            self.err.out(line.text, highlight=False)
        else:
            sys.stdout.write(line.written)
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
                    "[dim]This exact job already ran: showing its stored result"
                    " (`asman job add ... --rerun` runs it again).[/]"
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
