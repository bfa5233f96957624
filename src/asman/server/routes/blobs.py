"""Blobs at /f/<key> (and the deprecated /upload, /download paths). Any single safe path segment is a key; a
sha256 key is a content address, and the bytes put there must hash to it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from asman.blobs import BlobStore
from asman.core.errors import TooLarge
from asman.core.names import blob_upload_headers, check_blob_key, is_content_key
from asman.server.files import blob_response
from asman.server.http import JSONResponse
from asman.server.openapi import answers, file, redirect_to
from asman.server.schemas import BlobExists, BlobLocation, BlobStored
from asman.server.service import JobService
from asman.settings import Settings

router = APIRouter(tags=["blobs"])

PUT_ANSWERS = {
    **answers(BlobStored, 400, 413, description="The same bytes were there already (`existed`)"),
    **answers(BlobStored, status=201, description="Stored (`size`)"),
    307: redirect_to(
        "With S3 and `x-amz-checksum-sha256`: PUT the same body to the presigned URL in Location"
    ),
}
PUT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _service(request: Request) -> JobService:
    service: JobService = request.app.state.service
    return service


def _blobs(request: Request) -> BlobStore:
    blobs: BlobStore = request.app.state.blobs
    return blobs


@router.get(
    "/f/{key}/exists",
    summary="Whether a blob exists (200 or 404)",
    operation_id="blobExists",
    responses={
        **answers(BlobExists, 400),
        404: {"model": BlobExists, "description": "No such blob, answered `{exists: false}`"},
    },
)
async def exists(key: str, request: Request) -> Response:
    check_blob_key(key)
    # Asking is using: a client that finds its blob there will not upload it again, so it is kept from now.
    found = await _service(request).keep_blob(key)
    return JSONResponse({"exists": found}, status_code=200 if found else 404)


@router.get(
    "/f/{key}",
    summary="Download a blob",
    operation_id="downloadBlob",
    response_class=Response,
    responses=file(400, redirect="With S3: a redirect to a presigned URL"),
)
async def download(key: str, request: Request) -> Response:
    check_blob_key(key)
    return await blob_response(_blobs(request), key)


@router.get(
    "/download/{key}",
    summary="Where to download a blob (deprecated)",
    deprecated=True,
    operation_id="getDownloadUrl",
    responses=answers(BlobLocation, 400),
)
async def download_url(key: str, request: Request) -> Response:
    check_blob_key(key)
    location = await _blobs(request).locate(key)
    url = location.url if location and location.url else str(request.url_for("download", key=key))
    return JSONResponse({"url": url, "ref": key})


@router.put(
    "/f/{key}",
    summary="Upload a blob: the body must hash (sha256) to the key",
    operation_id="uploadBlob",
    responses=PUT_ANSWERS,
    openapi_extra=PUT_BODY,
)
@router.put(
    "/upload/{key}",
    summary="Upload a blob (deprecated path)",
    deprecated=True,
    operation_id="uploadBlobDeprecated",
    responses=PUT_ANSWERS,
    openapi_extra=PUT_BODY,
)
@router.get(
    "/upload/{key}",
    summary="Where to upload a blob (deprecated)",
    deprecated=True,
    operation_id="getUploadUrl",
    responses=answers(BlobLocation, 400),
)
async def upload(key: str, request: Request) -> Response:
    check_blob_key(key)
    blobs = _blobs(request)
    settings: Settings = request.app.state.settings
    if request.method == "GET":
        direct = await blobs.upload_url(key)
        return JSONResponse(
            {"url": direct or str(request.url_for("upload", key=key)).replace("/upload/", "/f/"), "ref": key}
        )
    # Straight to the object store only for a client that sends the checksum the presigned URL is signed
    # with: it cannot be carried by a redirect, so the others put their bytes through this server.
    checksum = request.headers.get("x-amz-checksum-sha256")
    direct = None
    if is_content_key(key) and checksum == blob_upload_headers(key)["x-amz-checksum-sha256"]:
        direct = await blobs.upload_url(key)
    if direct is not None:
        # 307 keeps the method and body: the client PUTs straight to the object store.
        return RedirectResponse(direct, status_code=307)
    if is_content_key(key) and await _service(request).keep_blob(key):
        await _drain(request, settings.max_blob_bytes)  # the same bytes are there: keep none of these
        return JSONResponse({"success": True, "key": key, "existed": True})

    size = await blobs.put(key, request.stream(), settings.max_blob_bytes)
    return JSONResponse({"success": True, "key": key, "size": size}, status_code=201)


async def _drain(request: Request, limit: int) -> None:
    """Read a body to its end without keeping it, so the client sees its upload accepted."""
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"blob is over the {limit} byte limit (ASMAN_MAX_BLOB_BYTES)")
