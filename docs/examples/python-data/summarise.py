"""Summarise weather measurements per station: every CSV file under $JOB_INPUTS in, a JSON and a CSV summary
under $JOB_OUTPUTS out, and a table on stdout (the job's log)."""

import csv
import json
import os
import statistics
from collections import defaultdict
from pathlib import Path

inputs = Path(os.environ.get("JOB_INPUTS", "/inputs"))
outputs = Path(os.environ.get("JOB_OUTPUTS", "/outputs"))

temperatures: dict[str, list[float]] = defaultdict(list)
rain: dict[str, float] = defaultdict(float)
for path in sorted(inputs.rglob("*.csv")):
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            temperatures[row["station"]].append(float(row["temperature_c"]))
            rain[row["station"]] += float(row["rain_mm"])

summary = {
    station: {
        "days": len(values),
        "mean_c": round(statistics.fmean(values), 2),
        "min_c": min(values),
        "max_c": max(values),
        "rain_mm": round(rain[station], 1),
    }
    for station, values in sorted(temperatures.items())
}
(outputs / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
with (outputs / "summary.csv").open("w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["station", "days", "mean_c", "min_c", "max_c", "rain_mm"])
    for station, numbers in summary.items():
        writer.writerow([station, *numbers.values()])

print(f"{'station':<10} {'days':>4} {'mean °C':>8} {'rain mm':>8}")
for station, numbers in summary.items():
    print(f"{station:<10} {numbers['days']:>4} {numbers['mean_c']:>8} {numbers['rain_mm']:>8}")
