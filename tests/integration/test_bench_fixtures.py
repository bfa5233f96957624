"""The scale benchmark writes its million stored jobs straight into the SQLite file: kept in step with the
schema here, so a migration that changes what a stored job is cannot leave `make bench` broken unseen."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from bench.bench_scale import QUEUE, populate

from asman.core.trust import Trust, own_domain
from asman.store import open_store


async def test_the_scale_benchmark_stores_jobs_the_server_reads_as_its_own(tmp_path: Path) -> None:
    db = tmp_path / "asman.sqlite3"
    store = open_store(f"sqlite:///{db}")
    await store.open()  # the migrations
    await store.close()
    populate(db, 50)
    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:
        first = hashlib.sha256(b"stored-0").hexdigest()
        job = await store.get_job(QUEUE, first)
        assert job is not None and job.state.value == "Finished" and job.exit_code == 0
        result = await store.get_result(first, Trust(QUEUE, own_domain(QUEUE)))
        assert result is not None and result["domain"] == own_domain(QUEUE)
        assert await store.counts(QUEUE) == {"Finished": 50}
        # A resubmit is served the kept success, as for any job the queue finished.
        now = int(time.time() * 1000)
        again = await store.submit(
            QUEUE, first, {"image": "asman/busybox:latest", "command": "echo stored-0"}, "_", now, now + 10**6
        )
        assert again.transitions == [] and again.job.state.value == "Finished"
    finally:
        await store.close()
