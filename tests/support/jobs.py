"""Driving runtimes and `run_job` in tests: a log sink, and the network side (`JobIO`) in memory, over any
runtime (Docker or the fake)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
from pathlib import Path
from typing import Any, BinaryIO

from asman.core.definition import DataRef, JobDefinition, job_id
from asman.core.protocol import JobResult
from asman.worker.fetch import TooLarge
from asman.worker.run import JobContext, RunSettings, run_job
from asman.worker.runtimes import ContainerRuntime

Line = tuple[str, int, bool]

# Inputs and configFiles of every kind (utf8, base64, json, url, untyped, an absolute configFile), for staging
# tests on either runtime; a MemoryIO serves the url one from INPUT_URLS.
EVERY_KIND_OF_INPUT: dict[str, Any] = {
    "inputs": {
        "a.txt": {"type": "utf8", "value": "hello\n"},
        "sub/b.bin": {"type": "base64", "value": base64.b64encode(b"binary\n").decode()},
        "c.json": {"type": "json", "value": {"x": [1, 2]}},
        "u.txt": {"type": "url", "value": "http://files.test/u.txt"},
    },
    "configFiles": {
        "conf/x.cfg": {"value": "relative config\n"},
        "/etc/asman.conf": {"value": "absolute config"},
    },
}
INPUT_URLS = {"http://files.test/u.txt": b"from a url\n"}


class Lines:
    """A thread-safe log sink that remembers every line."""

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self._lock = threading.Lock()

    def __call__(self, text: str, epoch_ms: int, is_stderr: bool) -> None:
        with self._lock:
            self.lines.append((text, epoch_ms, is_stderr))

    def stdout(self) -> list[str]:
        return [text.removesuffix("\n") for text, _, is_stderr in self.lines if not is_stderr]

    def stderr(self) -> list[str]:
        return [text.removesuffix("\n") for text, _, is_stderr in self.lines if is_stderr]


class MemoryIO:
    """JobIO over dicts: `urls` serves url inputs, `blobs` receives uploads, `lines` keeps every log line."""

    def __init__(self) -> None:
        self.urls: dict[str, bytes] = {}
        self.blobs: dict[str, bytes] = {}
        # URLs whose download never finishes, for cancels that arrive while inputs are staged.
        self.hanging: set[str] = set()
        self.lines: list[tuple[str, str, int, bool]] = []
        self._lock = threading.Lock()

    async def _content(self, ref: DataRef) -> bytes:
        if str(ref.value) in self.hanging:
            await asyncio.Event().wait()
        try:
            return self.urls[str(ref.value)]
        except KeyError:
            raise FileNotFoundError(f"no such URL {ref.value}") from None

    async def fetch_to(self, ref: DataRef, sink: BinaryIO, limit: int) -> str:
        data = await self._content(ref)
        if len(data) > limit:
            raise TooLarge(f"larger than the cap of {limit} bytes")
        sink.write(data)
        return hashlib.sha256(data).hexdigest()

    async def upload(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        self.blobs[key] = data
        return key

    def log(self, step: str, text: str, epoch_ms: int, is_stderr: bool) -> None:
        with self._lock:
            self.lines.append((step, text, epoch_ms, is_stderr))

    def blob_url(self, key: str) -> str:
        return f"http://127.0.0.1:8000/f/{key}"

    def step(self, step: str) -> list[str]:
        """The lines of `step`, each without the newline it was written with."""
        return [text.removesuffix("\n") for line_step, text, _, _ in self.lines if line_step == step]


class Runner:
    """Runs definitions through `run_job` on `runtime`, each in its own attempt folder under `data_dir`."""

    def __init__(self, runtime: ContainerRuntime, data_dir: Path, image: str) -> None:
        self.runtime = runtime
        self.data_dir = data_dir
        self.image = image
        self.io = MemoryIO()

    def context(self, definition: dict[str, Any], attempt: int = 1, **fields: Any) -> JobContext:
        definition.setdefault("image", self.image)
        parsed = JobDefinition.model_validate(definition)
        identifier = job_id(parsed)
        return JobContext(
            job_id=identifier,
            attempt=attempt,
            definition=parsed,
            work_dir=self.data_dir / "j" / identifier / str(attempt),
            **fields,
        )

    async def run(self, definition: dict[str, Any], **settings: Any) -> JobResult:
        return await self.run_context(self.context(definition), **settings)

    async def run_context(self, job: JobContext, **settings: Any) -> JobResult:
        settings.setdefault("cache_dir", self.data_dir / "cache")
        result = await run_job(job, self.runtime, self.io, settings=RunSettings(**settings))
        assert not job.work_dir.exists(), "the work dir must be removed"
        return result


def stdout(result: JobResult) -> list[str]:
    """The result's stdout lines, each without the newline it was written with."""
    return [text.removesuffix("\n") for text, _, is_stderr in result.logs if not is_stderr]


def stderr(result: JobResult) -> list[str]:
    return [text.removesuffix("\n") for text, _, is_stderr in result.logs if is_stderr]
