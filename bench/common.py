"""Shared pieces of the benchmarks: result records, quick mode, percentiles, server processes, a lean HTTP client.

Everything runs on this machine and talks to 127.0.0.1 only. Every loop is bounded in count and in time.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
PEERS_PYTHON = BENCH / ".venv-peers" / "bin" / "python"
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false", "no")

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def scaled(full: int, quick: int) -> int:
    return quick if QUICK else full


@dataclass
class Result:
    """One row of the results table. `met` is None when a figure has no target (context only)."""

    bench: str
    metric: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None
    note: str = ""

    def shown(self) -> str:
        if self.unit in ("ms", "MB", "s"):
            return f"{self.value:,.2f} {self.unit}" if self.value < 100 else f"{self.value:,.0f} {self.unit}"
        if self.unit == "x":
            return f"{self.value:.2f}x"
        return f"{self.value:,.0f} {self.unit}"


@dataclass
class Section:
    """The results of one benchmark, plus notes on how it was measured."""

    name: str
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str = ""

    def add(self, *args: Any, **kwargs: Any) -> Result:
        result = Result(self.name, *args, **kwargs)
        self.results.append(result)
        return result

    def target(
        self,
        metric: str,
        value: float,
        unit: str,
        *,
        at_least: float | None = None,
        at_most: float | None = None,
        note: str = "",
    ) -> Result:
        """A figure with a fixed target: met when it is at least `at_least` (or at most `at_most`)."""
        if (at_least is None) == (at_most is None):
            raise ValueError("give exactly one of at_least and at_most")
        bound = at_least if at_least is not None else at_most
        assert bound is not None
        shown = Result(self.name, "", bound, unit).shown()
        if at_least is not None:
            return self.add(metric, value, unit, f">= {shown}", value >= at_least, note=note)
        return self.add(metric, value, unit, f"<= {shown}", value <= bound, note=note)

    def versus(
        self, metric: str, value: float, peer: str, peer_value: float, unit: str, at_least: float
    ) -> Result:
        """A figure beside its peer's in the same run: their ratio against a target ratio, both figures in the
        note, so the table shows every target beside its peer."""
        ratio = value / peer_value if peer_value else float("nan")
        figures = (
            f"{Result('', '', value, unit).shown()} vs {peer} {Result('', '', peer_value, unit).shown()}"
        )
        return self.add(metric, ratio, "x", f">= {at_least:.2f}x", ratio >= at_least, note=figures)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "results": [asdict(r) for r in self.results],
            "notes": self.notes,
            "skipped": self.skipped,
        }


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p50, p99 ...) of a non-empty sample."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB, from /proc."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0]) / 1024
    except OSError:
        pass
    return values["VmRSS"], values["VmHWM"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


# -- the queue server and helper processes -----------------------------------------------------------------------

BENCH_SERVER_ENV = {
    # Protocol-level workers finish at once: long leases keep a busy machine from requeueing anything.
    "ASMAN_LEASE_SECONDS": "30",
    "ASMAN_HEARTBEAT_SECONDS": "5",
    "ASMAN_SWEEP_INTERVAL_SECONDS": "3600",
}


@contextmanager
def asman_server(data_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[Any]:
    """`asman server` as a subprocess (tests/support/server.py's start_server), stopped on exit."""
    from tests.support.server import start_server

    server = start_server(data_dir, {**BENCH_SERVER_ENV, **(extra_env or {})})
    try:
        yield server
    finally:
        server.stop()


class Agent:
    """A helper process (`python -m bench.agents ...`) that prints one JSON line when ready and one when done."""

    def __init__(self, args: list[str], python: str | None = None, log: Path | None = None) -> None:
        self.log_file = log.open("ab") if log else subprocess.DEVNULL
        self.last: dict[str, Any] = {}
        self.process = subprocess.Popen(
            [python or sys.executable, "-m", "bench.agents", *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log_file,
            text=True,
        )

    def read(self, timeout: float = 60) -> dict[str, Any]:
        """The next JSON line the agent prints."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        import selectors

        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if selector.select(timeout=min(1.0, max(0.01, deadline - time.monotonic()))):
                    line = self.process.stdout.readline()
                    if not line:
                        raise RuntimeError(f"agent {self.process.args!r} exited (code {self.process.poll()})")
                    if line.startswith("{"):
                        message: dict[str, Any] = json.loads(line)
                        return message
                elif self.process.poll() is not None:
                    raise RuntimeError(f"agent {self.process.args!r} exited (code {self.process.returncode})")
        raise TimeoutError(f"agent {self.process.args!r} said nothing in {timeout} s")

    def read_key(self, key: str, timeout: float = 60) -> Any:
        """The value of `key` in the first JSON line that has it (lines without it, e.g. warnings, are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.read(max(0.1, deadline - time.monotonic()))
            if key in message:
                self.last = message
                return message[key]

    def tell(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.log_file is not subprocess.DEVNULL:
            self.log_file.close()  # type: ignore[union-attr]


@contextmanager
def agents(*agents_: Agent) -> Iterator[None]:
    try:
        yield
    finally:
        for agent in agents_:
            agent.stop()


def wait_finished(url: str, queue: str, count: int, timeout: float, poll: float = 0.02) -> float | None:
    """Poll a queue's counts until `count` jobs are Finished; the monotonic time it was seen, or None.

    The counts come from the queue's metrics, which read the store's per-state counters: the status document
    would also list every live job, up to 2,000 rows 50 times a second, and the clock would time the polling."""
    import httpx

    finished = f'asman_queue_jobs{{queue="{queue}",state="Finished"}} '
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=10) as client:
        while time.monotonic() < deadline:
            for line in client.get(f"{url}/q/{queue}/metrics").text.splitlines():
                if line.startswith(finished) and float(line[len(finished) :]) >= count:
                    return time.monotonic()
            time.sleep(poll)
    return None


# -- a lean HTTP/1.1 client: keep-alive, no pooling, so the client costs little CPU next to the server ----------


class RawHTTP:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with suppress(OSError):
                await self.writer.wait_closed()

    def encode(self, method: str, path: str, body: bytes = b"") -> bytes:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if body or method in ("POST", "PUT"):
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        return head.encode() + b"\r\n" + body

    async def send_raw(self, raw: bytes) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        return await self.send_raw(self.encode(method, path, body))


def submit_body(command: str, image: str = "asman/busybox:latest") -> bytes:
    return json.dumps({"definition": {"image": image, "command": command}}, separators=(",", ":")).encode()


def run_id() -> str:
    return f"{os.getpid():x}{time.time_ns() % 10**9:x}"
