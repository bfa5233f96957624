"""Content-addressed blob storage: a key is the sha256 of the bytes it names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class BlobLocation:
    """Where a client gets a blob: a local file the server streams, or a URL it is redirected to."""

    path: Path | None = None
    url: str | None = None


class BlobStore(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def exists(self, key: str) -> bool: ...

    async def put(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int:
        """Store the bytes under key; refuse them unless they hash to key. Returns the size."""
        ...

    async def upload_url(self, key: str) -> str | None:
        """A URL clients PUT the bytes to directly, or None when they go through the server."""
        ...

    async def touch(self, key: str, stale_before_ms: int) -> bool:
        """Keep a blob for a whole lifetime from now, as if just written, when it was last kept before
        `stale_before_ms` (a blob kept more recently is left alone, so frequent use costs one look-up). False
        when there is no such blob. What `sweep` (and an S3 lifecycle rule) go by is this age."""
        ...

    async def locate(self, key: str) -> BlobLocation | None: ...

    async def read(self, key: str) -> bytes | None: ...

    async def sweep(self, older_than_ms: int) -> int: ...
