"""Answering for one file: a job's input or output (a DataRef) or a blob. Inline content and blobs of the
filesystem store are sent as bytes (200); blobs in S3 are a redirect to a presigned URL, and a URL the job
names is a redirect to it. Every file answer has a Content-Type from its name and a Content-Disposition."""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from fastapi.responses import FileResponse, RedirectResponse, Response

from asman.blobs import BlobStore
from asman.core.definition import DataRef
from asman.core.errors import InvalidInput, NotFound
from asman.core.names import blob_key_in_url


def content_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name)
    if guessed is None:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def disposition(name: str) -> str:
    """`attachment` with the file's base name, spelled for old and new browsers alike (RFC 6266)."""
    base = PurePosixPath(name).name or "file"
    ascii_name = base.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(base)}"


async def blob_response(blobs: BlobStore, key: str, name: str | None = None) -> Response:
    location = await blobs.locate(key)
    if location is None:
        raise NotFound(f"no blob {key}: upload it with PUT /f/{key}")
    if location.url:
        return RedirectResponse(location.url, status_code=302)
    assert location.path is not None
    shown = name or key
    return FileResponse(
        location.path,
        media_type=content_type(shown),
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "Content-Disposition": disposition(shown),
        },
    )


async def ref_response(blobs: BlobStore, raw: Any, name: str, what: str) -> Response:
    """The answer for a job's input or output `name`, whose DataRef is `raw` (None when there is none)."""
    if not isinstance(raw, dict):
        raise NotFound(f"{what} file '{name}' not found")
    try:
        ref = DataRef.model_validate(raw)
    except ValueError as exc:
        raise NotFound(f"{what} file '{name}' has an unreadable reference: {exc}") from exc
    if ref.type in ("url", "key"):
        value = str(ref.value or "")
        key = value if ref.type == "key" else blob_key_in_url(value)
        if key is not None:
            return await blob_response(blobs, key, name)
        return RedirectResponse(value, status_code=302)
    try:
        body = ref.inline_bytes() or b""
    except InvalidInput as exc:
        raise InvalidInput(f"{what} file '{name}' is {exc.message}") from exc
    media = "application/json" if ref.type == "json" else content_type(name)
    return Response(body, media_type=media, headers={"Content-Disposition": disposition(name)})
