"""Blobs as files in one folder, named by their keys. Writes go to a temp file and are renamed into place only
once complete (and, for a sha256 key, once the hash matches), so a reader never sees a partial or wrong blob."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from asman.blobs.base import BlobLocation
from asman.core.errors import BackendUnavailable, InvalidInput, TooLarge
from asman.core.names import check_blob_key, is_content_key


class FsBlobStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        # The key check is what keeps '..', '/', NUL and absolute paths out of the blob folder.
        check_blob_key(key)
        return self._root / key[:2] / key

    async def open(self) -> None:
        self._root.mkdir(parents=True, exist_ok=True)
        (self._root / "tmp").mkdir(exist_ok=True)

    async def close(self) -> None:
        return None

    async def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    async def put(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int:
        target = self._path(key)
        digest = hashlib.sha256()
        size = 0
        try:
            fd, tmp_name = tempfile.mkstemp(dir=self._root / "tmp")
        except OSError as exc:
            raise BackendUnavailable(f"cannot write blobs under {self._root}: {exc}") from exc
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(f"blob is over the {max_bytes} byte limit (ASMAN_MAX_BLOB_BYTES)")
                    digest.update(chunk)
                    # Disk writes leave the event loop free for other requests.
                    await asyncio.to_thread(handle.write, chunk)
            if is_content_key(key) and digest.hexdigest() != key:
                raise InvalidInput(
                    f"the body hashes to {digest.hexdigest()}, not to the key {key}: PUT blobs at /f/<sha256 of body>"
                )
            target.parent.mkdir(exist_ok=True)
            await asyncio.to_thread(os.replace, tmp, target)
        except OSError as exc:
            raise BackendUnavailable(f"cannot write blob {key}: {exc}. Check free disk space.") from exc
        finally:
            await asyncio.to_thread(tmp.unlink, missing_ok=True)
        return size

    async def touch(self, key: str, stale_before_ms: int) -> bool:
        path = self._path(key)

        def _touch() -> bool:
            try:
                if path.stat().st_mtime * 1000 < stale_before_ms:
                    os.utime(path)  # the sweep goes by the time a blob was last written
            except FileNotFoundError:
                return False
            return True

        return await asyncio.to_thread(_touch)

    async def upload_url(self, key: str) -> str | None:
        return None

    async def locate(self, key: str) -> BlobLocation | None:
        path = self._path(key)
        return BlobLocation(path=path) if path.is_file() else None

    async def read(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def sweep(self, older_than_ms: int) -> int:
        def _sweep() -> int:
            cutoff = older_than_ms / 1000
            removed = 0
            for path in self._root.glob("*/*"):
                if path.parent.name != "tmp" and path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
                    removed += 1
            for path in (self._root / "tmp").iterdir():
                if path.stat().st_mtime < time.time() - 86_400:
                    path.unlink(missing_ok=True)
            return removed

        return await asyncio.to_thread(_sweep)
