# mypy: disable-error-code="import-not-found,untyped-decorator,no-untyped-call"
"""Peer task queues for the lifecycle benchmark: Celery, RQ and Dramatiq with Redis, running no-op tasks.

Runs in the separate venv bench/.venv-peers (scripts/bench.sh makes it), never in the product's venv.

  python bench/peers.py worker-app            (import side: the task definitions below)
  BENCH_REDIS_PORT=P python bench/peers.py run KIND COUNT LOGDIR   start KIND's workers, enqueue COUNT no-op
                                                                   tasks, {"jobs_per_s": ...} once all have run

Each no-op task increments one Redis counter when it runs: the driver polls it to see the last task finish,
the same "every job finished" point the Asman benchmark waits for. Worker pools match the Asman run: two
workers (Celery prefork x2, RQ SimpleWorker x2, Dramatiq 2 processes x 8 threads).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REDIS_PORT = int(os.environ.get("BENCH_REDIS_PORT", "6399"))
REDIS_URL = f"redis://127.0.0.1:{REDIS_PORT}/0"
COUNTER = "bench:done"

# -- task definitions, imported by each framework's worker -----------------------------------------------------

_redis = None


def _bump() -> None:
    global _redis
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(REDIS_URL)
    _redis.incr(COUNTER)


def rq_noop() -> None:
    _bump()


def _celery_app():  # type: ignore[no-untyped-def]
    from celery import Celery

    app = Celery("bench", broker=REDIS_URL)
    app.conf.update(
        task_ignore_result=True,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        worker_prefetch_multiplier=4,
    )

    @app.task(name="noop")
    def noop() -> None:
        _bump()

    return app


def _dramatiq_setup():  # type: ignore[no-untyped-def]
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=REDIS_URL)
    dramatiq.set_broker(broker)

    @dramatiq.actor(queue_name="bench", max_retries=0)
    def noop() -> None:
        _bump()

    return noop


if os.environ.get("BENCH_PEER") == "celery":
    celery_app = _celery_app()
elif os.environ.get("BENCH_PEER") == "dramatiq":
    dramatiq_noop = _dramatiq_setup()

# -- the driver ------------------------------------------------------------------------------------------------


def _workers(kind: str, logdir: Path) -> list[subprocess.Popen[bytes]]:
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "BENCH_PEER": kind,
        "BENCH_REDIS_PORT": str(REDIS_PORT),
        "PYTHONPATH": str(Path(__file__).parent),
    }
    log = (logdir / f"peer-{kind}.log").open("ab")
    if kind == "celery":
        commands = [
            [
                str(bin_dir / "celery"),
                "-A",
                "peers:celery_app",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                "2",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "WARNING",
            ]
        ]
    elif kind == "rq":
        commands = [
            [
                str(bin_dir / "rq"),
                "worker",
                "--url",
                REDIS_URL,
                "--worker-class",
                "rq.worker.SimpleWorker",
                "--quiet",
                "bench",
            ]
            for _ in range(2)
        ]
    elif kind == "dramatiq":
        commands = [[str(bin_dir / "dramatiq"), "peers", "--processes", "2", "--threads", "8"]]
    else:
        raise SystemExit(f"unknown peer {kind}")
    return [
        subprocess.Popen(
            command, env=env, stdout=log, stderr=log, cwd=Path(__file__).parent, start_new_session=True
        )
        for command in commands
    ]


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def _enqueue(kind: str, count: int) -> None:
    if kind == "celery":
        noop = celery_app.tasks["noop"]
        for _ in range(count):
            noop.delay()
    elif kind == "rq":
        import redis
        from rq import Queue

        queue = Queue("bench", connection=redis.Redis.from_url(REDIS_URL))
        for _ in range(count):
            queue.enqueue("peers.rq_noop")
    else:
        for _ in range(count):
            dramatiq_noop.send()


def run(kind: str, count: int, logdir: Path, timeout: float = 300) -> dict[str, float | int | str]:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    processes = _workers(kind, logdir)
    try:
        # Warm up: the workers must be up and consuming before the clock starts.
        warm = min(200, count)
        _enqueue(kind, warm)
        deadline = time.monotonic() + 90
        while int(client.get(COUNTER) or 0) < warm:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                return {"error": f"{kind} workers did not start (see {logdir}/peer-{kind}.log)"}
            time.sleep(0.05)
        client.set(COUNTER, 0)
        t0 = time.monotonic()
        _enqueue(kind, count)
        enqueued = time.monotonic()
        deadline = t0 + timeout
        while int(client.get(COUNTER) or 0) < count:
            if time.monotonic() > deadline:
                return {"error": f"{kind}: only {client.get(COUNTER)} of {count} ran in {timeout} s"}
            time.sleep(0.005)
        t1 = time.monotonic()
        return {
            "jobs_per_s": count / (t1 - t0),
            "seconds": t1 - t0,
            "enqueue_per_s": count / (enqueued - t0),
            "count": count,
        }
    finally:
        _stop(processes)


if __name__ == "__main__":
    if sys.argv[1] == "run":
        kind = sys.argv[2]
        os.environ["BENCH_PEER"] = kind
        if kind == "celery":
            celery_app = _celery_app()
        elif kind == "dramatiq":
            dramatiq_noop = _dramatiq_setup()
        print(json.dumps(run(kind, int(sys.argv[3]), Path(sys.argv[4]))), flush=True)
