"""Content-addressed blobs at /f/<sha256> (and the deprecated /upload, /download paths)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from asman.blobs import BlobStore
from asman.core.errors import NotFound
from asman.core.names import check_blob_key
from asman.server.http import JSONResponse, read_body
from asman.settings import Settings

router = APIRouter()


def _blobs(request: Request) -> BlobStore:
    blobs: BlobStore = request.app.state.blobs
    return blobs


@router.get("/f/{key}/exists", summary="Whether a blob exists (200 or 404)")
async def exists(key: str, request: Request) -> Response:
    check_blob_key(key)
    found = await _blobs(request).exists(key)
    return JSONResponse({"exists": found}, status_code=200 if found else 404)


@router.get("/f/{key}", summary="Download a blob")
@router.get("/download/{key}", summary="Download a blob (deprecated path)", deprecated=True)
async def download(key: str, request: Request) -> Response:
    check_blob_key(key)
    location = await _blobs(request).locate(key)
    if location is None:
        raise NotFound(f"no blob {key}: upload it with PUT /f/{key}")
    if location.url:
        return RedirectResponse(location.url, status_code=302)
    assert location.path is not None
    return FileResponse(
        location.path,
        media_type="application/octet-stream",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


@router.put("/f/{key}", summary="Upload a blob: the body must hash (sha256) to the key")
@router.put("/upload/{key}", summary="Upload a blob (deprecated path)", deprecated=True)
@router.get("/upload/{key}", summary="Where to upload a blob (deprecated)", deprecated=True)
async def upload(key: str, request: Request) -> Response:
    check_blob_key(key)
    blobs = _blobs(request)
    settings: Settings = request.app.state.settings
    direct = await blobs.upload_url(key)
    if request.method == "GET":
        return JSONResponse(
            {"url": direct or str(request.url_for("upload", key=key)).replace("/upload/", "/f/")}
        )
    if direct is not None:
        # 307 keeps the method and body: the client PUTs straight to the object store.
        return RedirectResponse(direct, status_code=307)
    if await blobs.exists(key):
        await read_body(request, settings.max_blob_bytes)
        return JSONResponse({"success": True, "key": key, "existed": True})

    size = await blobs.put(key, request.stream(), settings.max_blob_bytes)
    return JSONResponse({"success": True, "key": key, "size": size}, status_code=201)
