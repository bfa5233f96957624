"""Run the benchmark suite, print the results table and write docs/benchmarks.md.

  python -m bench.run                 every benchmark (scripts/bench.sh, i.e. `make bench`, sets things up first)
  python -m bench.run submit scale    only these
  BENCH_QUICK=1 python -m bench.run   the quick pass (fewer jobs, shorter runs)
  BENCH_KEEP=1 python -m bench.run    keep every server's data and logs (printed at the end)
  python -m bench.run --rewrite-doc   docs/benchmarks.md again from the newest full run (after editing NOTES.md)

A benchmark never fails the run: each prints its target and whether it was met; one that breaks is reported
as an error row. The exit code is 0 unless the suite itself could not run.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench.common import QUICK, ROOT, Result, Section

ORDER = ("dispatch", "lifecycle", "submit", "batch", "container", "scale", "watchers")
DOC = ROOT / "docs" / "benchmarks.md"
KEEP = os.environ.get("BENCH_KEEP", "") not in ("", "0", "false", "no")
NOTES = ROOT / "bench" / "NOTES.md"
RESULTS = ROOT / "bench" / "results"


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores ({cpu}){memory}, Linux {platform.release()}, Python {platform.python_version()}; "
        f"load average {load:.2f} when the run started"
    )


def _commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
        capture_output=True,
        text=True,
        check=False,
    )
    return (done.stdout.strip() or "unknown") + (
        " + uncommitted changes in src/" if dirty.stdout.strip() else ""
    )


def _verdict(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "**missed**")


def table(sections: list[Section], markdown: bool) -> str:
    """The results as a Markdown table (with the notes) or as aligned text for the terminal."""
    rows: list[tuple[str, ...]] = [("benchmark", "metric", "value", "target", "", "note")]
    for section in sections:
        if section.skipped:
            rows.append((section.name, "skipped", section.skipped, "", "", ""))
        for r in section.results:
            verdict = (
                _verdict(r.met) if markdown else ("" if r.met is None else ("MET" if r.met else "MISSED"))
            )
            rows.append((r.bench, r.metric, r.shown(), r.target, verdict, r.note))
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows)


def verdicts(sections: list[Section]) -> str:
    """Every target of the run, one line each, MET or MISSED: what `make bench` ends with."""
    lines = []
    targets = [r for section in sections for r in section.results if r.met is not None]
    for r in targets:
        lines.append(
            f"{'MET   ' if r.met else 'MISSED'}  {r.bench}: {r.metric} = {r.shown()} (target {r.target})"
        )
    met = sum(1 for r in targets if r.met)
    lines.append(f"{met} of {len(targets)} targets met")
    return "\n".join(lines)


def write_doc(sections: list[Section], started: str, seconds: float, commit: str, machine: str) -> None:
    parts = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bash scripts/bench.sh`; `BENCH_QUICK=1 make bench` for the quick pass). "
        "Do not edit by hand: the text after the results comes from `bench/NOTES.md`.",
        "",
        f"- Run: {started}, {'quick pass' if QUICK else 'full run'}, {seconds / 60:.1f} min; commit {commit}.",
        f"- Machine: {machine}.",
        "- Figures are compared with peers measured in the same run on the same machine; absolute numbers move with "
        "whatever else the machine is doing, ratios much less.",
        "",
        "## Results",
        "",
        table(sections, markdown=True),
        "",
    ]
    for section in sections:
        notes = section.notes + ([f"skipped: {section.skipped}"] if section.skipped else [])
        if notes:
            parts.append(f"**{section.name}**: " + " ".join(notes))
            parts.append("")
    if NOTES.exists():
        parts.append(NOTES.read_text().strip())
        parts.append("")
    DOC.write_text("\n".join(parts))


def rewrite_doc() -> int:
    """Write docs/benchmarks.md again from the newest full run's results (after editing bench/NOTES.md)."""
    runs = sorted(path for path in RESULTS.glob("*.json") if not path.stem.endswith("-quick"))
    for path in reversed(runs):
        data = json.loads(path.read_text())
        sections = [
            Section(
                raw["name"], [Result(**result) for result in raw["results"]], raw["notes"], raw["skipped"]
            )
            for raw in data["sections"]
        ]
        if {section.name for section in sections} == set(ORDER):
            # The run's own commit and machine (load included), as recorded when it started.
            commit, machine = data.get("commit", "unknown"), data.get("machine", "unknown")
            write_doc(sections, data["started"], float(data.get("seconds", 0.0)), commit, machine)
            print(f"wrote {DOC.relative_to(ROOT)} from {path.relative_to(ROOT)}")
            return 0
    print("no full run of every benchmark in bench/results/: run `make bench` first", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    if argv == ["--rewrite-doc"]:
        return rewrite_doc()
    names = [name for name in argv if name in ORDER] or list(ORDER)
    unknown = [name for name in argv if name not in ORDER]
    if unknown:
        print(f"unknown benchmark(s) {unknown}: choose from {', '.join(ORDER)}", file=sys.stderr)
        return 2
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit, machine = _commit(), _machine()
    began = time.monotonic()
    sections: list[Section] = []
    print(f"Asman benchmarks ({'quick' if QUICK else 'full'}): {', '.join(names)}", flush=True)
    # Every benchmark's temp folders (server data, logs, the 1 GB scale store) go under one scratch folder,
    # emptied after each benchmark that worked; BENCH_KEEP=1 keeps them, and a failed benchmark's stay.
    scratch = Path(tempfile.mkdtemp(prefix="asman-bench-"))
    tempfile.tempdir = str(scratch)
    kept = False
    for name in names:
        t0 = time.monotonic()
        print(f"== {name}", flush=True)
        try:
            section: Section = importlib.import_module(f"bench.bench_{name}").run()
        except Exception as exc:
            traceback.print_exc()
            section = Section(
                name,
                skipped=f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
            )
        if section.skipped.startswith("error") or KEEP:
            kept = True
            print(f"   (its files are kept in {scratch})", flush=True)
        elif not kept:
            for child in scratch.iterdir():
                shutil.rmtree(child, ignore_errors=True)
        sections.append(section)
        print(table([section], markdown=False), flush=True)
        print(f"   ({time.monotonic() - t0:.0f} s)", flush=True)
    tempfile.tempdir = None
    if not kept:
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.monotonic() - began
    print("\n== all results\n" + table(sections, markdown=False))
    print("\n== targets\n" + verdicts(sections))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"{stamp}{'-quick' if QUICK else ''}.json").write_text(
        json.dumps(
            {
                "started": started,
                "commit": commit,
                "machine": machine,
                "quick": QUICK,
                "seconds": seconds,
                "sections": [s.to_json() for s in sections],
            },
            indent=1,
        )
    )
    if set(names) == set(ORDER):
        write_doc(sections, started, seconds, commit, machine)
        print(f"\nwrote {DOC.relative_to(ROOT)} ({seconds / 60:.1f} min)")
    else:
        print(
            f"\n{DOC.relative_to(ROOT)} is only written by a run of every benchmark ({seconds / 60:.1f} min)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
