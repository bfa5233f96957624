"""A parameter sweep: one job per (BETA, GAMMA) pair, all submitted at once, then gathered into one table.

    python docs/examples/sweep/sweep.py      (with `make run` going, or API_SERVER_ADDRESS set)

Each pair is its own job (its env differs, so its id does): workers run them side by side, as many at once
as they have slots (`asman worker --cpus N`), and a second run of the sweep is answered from the stored
results without running anything. Add a value to a list and only the new pairs run.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

from asman import Client

HERE = Path(__file__).resolve().parent
API = os.environ.get("API_SERVER_ADDRESS", "http://127.0.0.1:8000")
PYTHON_IMAGE = os.environ.get("PYTHON_IMAGE", "python:3.12-slim")
BETAS = (0.2, 0.3, 0.5)
GAMMAS = (0.1, 0.25)

queue = Client(API).queue("local")
jobs = {
    (beta, gamma): queue.submit(
        image=PYTHON_IMAGE,
        command="python3 /inputs/model.py",
        files=[HERE / "model.py"],
        env={"BETA": str(beta), "GAMMA": str(gamma)},
        max_duration="2m",
    )
    for beta, gamma in itertools.product(BETAS, GAMMAS)
}
print(f"submitted {len(jobs)} jobs to {queue.url}")

rows = []
for (beta, gamma), job in jobs.items():
    job.wait()
    [saved] = job.download(Path("out") / f"beta={beta}-gamma={gamma}")
    rows.append(json.loads(saved.read_text()))

print(f"{'beta':>5} {'gamma':>5} {'R0':>5} {'peak ill':>8} {'on day':>6}")
for row in sorted(rows, key=lambda row: row["peak_ill"], reverse=True):
    print(f"{row['beta']:>5} {row['gamma']:>5} {row['r0']:>5} {row['peak_ill']:>8.1%} {row['peak_day']:>6}")
Path("out/sweep.json").write_text(json.dumps(rows, indent=1) + "\n")
