"""A toy epidemic (the SIR model, one day per step): how many people are ill at the peak, and when, for an
infection rate BETA and a recovery rate GAMMA. Parameters come from the job's env; the answer goes to
$JOB_OUTPUTS/result.json and to the log."""

import json
import os
from pathlib import Path

beta = float(os.environ["BETA"])
gamma = float(os.environ["GAMMA"])
days = int(os.environ.get("DAYS", "365"))

susceptible, infected, recovered = 0.999, 0.001, 0.0
peak, peak_day = infected, 0
for day in range(1, days + 1):
    new_cases = beta * susceptible * infected
    new_recoveries = gamma * infected
    susceptible -= new_cases
    infected += new_cases - new_recoveries
    recovered += new_recoveries
    if infected > peak:
        peak, peak_day = infected, day

result = {
    "beta": beta,
    "gamma": gamma,
    "r0": round(beta / gamma, 2),
    "peak_ill": round(peak, 4),
    "peak_day": peak_day,
    "never_ill": round(susceptible, 4),
}
Path(os.environ.get("JOB_OUTPUTS", "/outputs"), "result.json").write_text(json.dumps(result) + "\n")
print(json.dumps(result))
