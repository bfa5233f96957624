"""The worked examples in docs/examples run for real: each script, as a user runs it, against a server with a
worker on the queue `local` and a real Docker engine. Nothing is pulled: the Python examples get a base
image made from this machine's Debian python3 packages (tests/support/docker.py), through the PYTHON_IMAGE
variable the examples read."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"

pytestmark = pytest.mark.docker


@pytest.fixture
def local(bare_stack: Stack, python_image: str) -> Stack:
    bare_stack.queue = "local"
    bare_stack.add_worker("--cpus", "2")
    return bare_stack


def run_example(stack: Stack, folder: Path, *command: str) -> str:
    """Run an example from a copy of its folder, as `python run.py` / `bash run.sh` there; return its stdout."""
    shutil.copytree(EXAMPLES / folder.name, folder)
    env = {
        **os.environ,
        "API_SERVER_ADDRESS": stack.url,
        "PYTHON_IMAGE": "asman/python:latest",
        "IMAGE": stack.image,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    done = subprocess.run(
        list(command), cwd=folder, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, f"{folder.name}: {' '.join(command)}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done.stdout


def test_every_example_is_tested() -> None:
    source = Path(__file__).read_text()
    for folder in EXAMPLES.iterdir():
        if folder.is_dir():
            assert f'"{folder.name}"' in source, f"docs/examples/{folder.name} has no test"
            assert f"({folder.name}/)" in (EXAMPLES / "README.md").read_text(), f"{folder.name} is not listed"


def test_python_data_job_built_from_a_dockerfile(local: Stack, tmp_path: Path) -> None:
    folder = tmp_path / "python-data"
    printed = run_example(local, folder, sys.executable, "run.py")
    summary = json.loads((folder / "out" / "summary.json").read_text())
    assert set(summary) == {"airport", "harbour", "hill"}
    assert all(station["days"] == 10 for station in summary.values())
    with (folder / "measurements.csv").open() as handle:
        hill = [float(row["temperature_c"]) for row in csv.DictReader(handle) if row["station"] == "hill"]
    assert summary["hill"]["max_c"] == max(hill)
    assert "saved summary.csv, summary.json" in printed and "wettest station: " in printed
    # The same build and inputs are the same job: the second run is the stored result, built and run once.
    again = run_example(local, tmp_path / "again" / "python-data", sys.executable, "run.py")
    assert again.splitlines()[-1] == printed.splitlines()[-1]


def test_multi_file_inputs_and_outputs(local: Stack, tmp_path: Path) -> None:
    folder = tmp_path / "files"
    printed = run_example(local, folder, "bash", "run.sh")
    out = folder / "out"
    texts = sorted(path.stem for path in (folder / "texts").glob("*.txt"))
    assert sorted(path.stem for path in (out / "counts").glob("*.words")) == texts
    with (out / "report.csv").open() as handle:
        report = list(csv.DictReader(handle))
    for row in report:
        words = len((folder / "texts" / f"{row['text']}.txt").read_text().split())
        assert int(row["words"]) == words == int((out / "counts" / f"{row['text']}.words").read_text())
    counts = [int(row["words"]) for row in report]
    assert counts == sorted(counts, reverse=True)
    assert len((out / "top-words.txt").read_text().splitlines()) == 5
    assert "--- out/report.csv\ntext,lines,words\n" in printed


def test_parameter_sweep(local: Stack, tmp_path: Path) -> None:
    folder = tmp_path / "sweep"
    printed = run_example(local, folder, sys.executable, "sweep.py")
    rows = json.loads((folder / "out" / "sweep.json").read_text())
    assert len(rows) == 6 and len({(row["beta"], row["gamma"]) for row in rows}) == 6
    by_pair = {(row["beta"], row["gamma"]): row for row in rows}
    # A faster spread gives a higher, earlier peak; below R0 = 1 the outbreak never grows.
    assert by_pair[(0.5, 0.1)]["peak_ill"] > by_pair[(0.3, 0.1)]["peak_ill"] > by_pair[(0.2, 0.1)]["peak_ill"]
    assert by_pair[(0.5, 0.1)]["peak_day"] < by_pair[(0.3, 0.1)]["peak_day"]
    assert by_pair[(0.2, 0.25)]["peak_day"] == 0
    assert printed.startswith("submitted 6 jobs to ")
