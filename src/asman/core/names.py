"""Validation of names that reach URLs and file paths: queues, blob keys, output file names."""

from __future__ import annotations

import base64
import re
import secrets
from urllib.parse import urlsplit

from asman.core.errors import InvalidInput

QUEUE_NAME = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
BLOB_KEY = re.compile(r"^[0-9a-f]{64}$")
# Any single path segment names a blob (upstream's clients use `<ms>-<random>-<file name>`, `<sha>.tar.gz`,
# random hex): no slash, backslash or control character, and not `.` or `..`.
BLOB_NAME = re.compile(r"^[^/\\\x00-\x1f\x7f]{1,255}$")
JOB_ID = re.compile(r"^[0-9a-f]{64}$")
# A job's namespaces are stored with it and listed in namespaces.json: bounded, with room for a URL.
MAX_NAMESPACE = 256


def check_queue(name: str) -> str:
    if not QUEUE_NAME.fullmatch(name) or name in {".", ".."}:
        raise InvalidInput(
            f"invalid queue name {name!r}: use 1-128 characters from A-Z a-z 0-9 . _ ~ -, or POST /q for a fresh one"
        )
    return name


def check_namespace(name: str) -> str:
    if len(name) > MAX_NAMESPACE:
        raise InvalidInput(f"namespace of {len(name)} characters: use at most {MAX_NAMESPACE}")
    return name


def check_blob_key(key: str) -> str:
    """A blob's name: any single safe path segment. A 64-hex name is the sha256 of the content (see
    is_content_key), and is checked against it."""
    if not BLOB_NAME.fullmatch(key) or key in {".", ".."} or len(key.encode()) > 255:
        raise InvalidInput(
            f"invalid blob key {key[:80]!r}: use one path segment of up to 255 bytes without '/', '\\' or"
            " control characters; PUT /f/<sha256 of the content> to have it checked"
        )
    return key


_BLOB_PATH = re.compile(r"^/f/([^/]+)$")


def blob_key_in_url(url: str) -> str | None:
    """The blob key a `.../f/<key>` URL names, whatever its host (an Asman's, or upstream's, blob URL)."""
    try:
        match = _BLOB_PATH.match(urlsplit(url).path)
    except ValueError:
        return None
    return match.group(1) if match else None


def is_content_key(key: str) -> bool:
    """Whether a blob key is a content address (the sha256 of the bytes), so the bytes must hash to it."""
    return BLOB_KEY.fullmatch(key) is not None


def blob_upload_headers(key: str) -> dict[str, str]:
    """Headers for a blob PUT. The checksum header lets an S3 store refuse, on its own, bytes that do not hash
    to the key when a client follows the redirect to a presigned URL; the filesystem store ignores it."""
    return {"x-amz-checksum-sha256": base64.b64encode(bytes.fromhex(key)).decode()}


def check_job_id(job_id: str) -> str:
    if not JOB_ID.fullmatch(job_id):
        raise InvalidInput(f"invalid job id {job_id[:80]!r}: a job id is 64 lowercase hex digits")
    return job_id


def safe_relative_path(name: str) -> str:
    """A relative path that cannot climb out of the folder it is joined to."""
    if not name or "\x00" in name or name.startswith(("/", "\\")):
        raise InvalidInput(f"invalid file name {name[:80]!r}: use a relative path without '..' or NUL")
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    if not parts or any(part == ".." for part in parts):
        raise InvalidInput(f"invalid file name {name[:80]!r}: use a relative path without '..' or NUL")
    return "/".join(parts)


def new_queue_name() -> str:
    """128 random bits, URL-safe. Never starting with '-' or '_': `asman queue status -x…` would read a name
    starting with '-' as an option."""
    while True:
        name = secrets.token_urlsafe(16)
        if name[0].isalnum():
            return name
