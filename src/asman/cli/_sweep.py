"""`asman job add --matrix K=a,b --from-file jobs.ndjson`: a sweep of jobs, submitted in batches, followed with
one progress bar, summed up in one table."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from asman.cli._output import EXIT_ERROR, connect, fail, print_json, stderr, stdout
from asman.client._base import build_definition, split_submission
from asman.client._sweep import BATCH_JOBS, fill, matrix

if TYPE_CHECKING:
    from asman.client import Job, JobResult

# A summary lists every job of a sweep this small; a bigger one lists only those that did not succeed.
_LIST_ALL = 30
_LIST_FAILED = 20


def read_lines(source: str) -> list[dict[str, Any]]:
    """The submissions of an NDJSON file (`-`: stdin): one definition, or `{definition, control}`, a line."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as error:
        raise typer.BadParameter(
            f"cannot read {source}: {error.strerror}", param_hint="--from-file"
        ) from None
    found: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as error:
            fail(f"line {number} of {source} is not JSON ({error}): one job definition per line")
        if not isinstance(data, dict):
            fail(f"line {number} of {source} must be a JSON object, not {type(data).__name__}")
        found.append(data)
    if not found:
        fail(f"{source} has no job definitions: write one JSON object per line")
    return found


def expand(
    bases: list[dict[str, Any] | None], axes: list[str], fields: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Every base definition (the options laid over it, as for one job) times every combination of the matrix:
    `{K}` replaced everywhere, and K=value in the job's environment. The submissions, and each one's values."""
    try:
        combos = matrix(axes) if axes else [{}]
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--matrix") from None
    submissions: list[dict[str, Any]] = []
    labels: list[dict[str, str]] = []
    for base in bases:
        raw, control = split_submission(base)
        for combo in combos:
            env = {**(fields.get("env") or {}), **combo}
            definition = fill(build_definition(raw, **{**fields, "env": env or None}), combo)
            submissions.append({"definition": definition, **({"control": control} if control else {})})
            labels.append(combo)
    return submissions, labels


def run_sweep(
    api: str,
    queue_name: str,
    submissions: list[dict[str, Any]],
    labels: list[dict[str, str]],
    *,
    namespace: str | None,
    wait: bool,
    timeout: float | None,
    as_json: bool,
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    client = connect(api)
    queue = client.queue(queue_name)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr(),
        transient=True,
    )
    jobs: list[Job] = []
    started = time.monotonic()
    with bar:
        task = bar.add_task(f"Submitting to {queue.url}", total=len(submissions))
        for start in range(0, len(submissions), BATCH_JOBS):
            jobs += queue.submit_many(submissions[start : start + BATCH_JOBS], namespace=namespace)
            bar.update(task, completed=len(jobs))
        if wait:
            bar.update(task, description="Finished", completed=0)
            for _ in queue.as_completed(jobs, timeout):
                bar.advance(task)
    distinct = len({job.id for job in jobs})
    note = f" ({len(jobs) - distinct} repeated)" if distinct < len(jobs) else ""
    if not wait:
        if as_json:
            print_json([_entry(job, label) for job, label in zip(jobs, labels, strict=True)])
        else:
            stderr().print(f"Submitted {len(jobs)} jobs{note} to {queue.url}; ids on stdout")
            sys.stdout.write("".join(job.id + "\n" for job in jobs))
        return
    results = queue.wait_all(jobs, timeout, check=False, full=False)
    seconds = time.monotonic() - started
    if as_json:
        print_json(
            [
                {**_entry(job, label), **_outcome(result)}
                for job, label, result in zip(jobs, labels, results, strict=True)
            ]
        )
    else:
        _summary(jobs, labels, results, seconds, note)
    if not all(result.ok for result in results):
        raise typer.Exit(EXIT_ERROR)


def _entry(job: Job, label: Mapping[str, str]) -> dict[str, Any]:
    return {"jobId": job.id, "url": job.url, **({"matrix": dict(label)} if label else {})}


def _outcome(result: JobResult) -> dict[str, Any]:
    return {"finishedReason": result.reason.value, "exitCode": result.exit_code, "ok": result.ok}


def _summary(
    jobs: list[Job], labels: list[dict[str, str]], results: list[JobResult], seconds: float, note: str
) -> None:
    from rich.table import Table

    failed = [index for index, result in enumerate(results) if not result.ok]
    shown = range(len(jobs)) if len(jobs) <= _LIST_ALL else failed[:_LIST_FAILED]
    keys = sorted({key for label in labels for key in label})
    if shown:
        table = Table(title=None if len(jobs) <= _LIST_ALL else "Jobs that did not succeed")
        table.add_column("#", justify="right")
        for key in keys:
            table.add_column(key)
        table.add_column("job")
        table.add_column("outcome")
        for index in shown:
            result = results[index]
            outcome = "[green]succeeded[/]" if result.ok else f"[red]{_describe(result)}[/]"
            values = [labels[index].get(key, "") for key in keys]
            table.add_row(str(index + 1), *values, jobs[index].id[:12], outcome)
        stdout().print(table)
        if len(failed) > len(shown) and len(jobs) > _LIST_ALL:
            stdout().print(f"... and {len(failed) - len(shown)} more that did not succeed")
    totals = Counter("succeeded" if result.ok else _describe(result) for result in results)
    counts = ", ".join(f"{what}: {count}" for what, count in totals.most_common())
    stderr().print(f"{len(jobs)} jobs{note} finished in {seconds:.1f} s: {counts}")


def _describe(result: JobResult) -> str:
    if result.exit_code:
        return f"exit code {result.exit_code}"
    return str(result.reason.value)
