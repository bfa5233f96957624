"""Blob stores by URL scheme: a path or file:// for the filesystem, s3:// for S3-compatible storage."""

from __future__ import annotations

from pathlib import Path

from asman.blobs.base import BlobLocation, BlobStore
from asman.blobs.fs import FsBlobStore

__all__ = ["BlobLocation", "BlobStore", "FsBlobStore", "open_blobs"]


def open_blobs(url: str) -> BlobStore:
    if url.startswith("s3://"):
        from asman.blobs.s3 import S3BlobStore  # type: ignore[import-not-found,unused-ignore]

        store: BlobStore = S3BlobStore.from_url(url)
        return store
    return FsBlobStore(Path(url.removeprefix("file://")))
