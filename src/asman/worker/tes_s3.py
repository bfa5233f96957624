"""`s3://bucket/key` inputs and outputs of TES tasks, through the worker's own S3 settings.

The worker reaches the one S3 service its operator names with `--s3-endpoint` (`ASMAN_WORKER_S3_ENDPOINT`):
`https://s3.amazonaws.com` (or a regional AWS endpoint) for AWS S3, or any S3-compatible store (path-style
addressing). Without it s3:// URLs are refused: every task on the queue acts with the worker's credentials, so
an operator opts in, with a key that reaches only the buckets the queue's tasks may use. Credentials and region
come from the standard AWS chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`, the platform's
role; `AWS_REGION` or `AWS_DEFAULT_REGION`, else `us-east-1`). A key is a file; a DIRECTORY is every object
under `key/`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from asman.core.errors import AsmanError

_DEFAULT_REGION = "us-east-1"


class S3Error(AsmanError):
    """An s3:// URL could not be read or written; the message says which and why."""


def split_s3_url(url: str) -> tuple[str, str]:
    """The bucket and key of `s3://bucket/key`."""
    parts = urlsplit(url)
    bucket, key = parts.netloc, unquote(parts.path).lstrip("/")
    if not bucket:
        raise S3Error(f"{url[:200]} names no bucket: use s3://bucket/key")
    return bucket, key


@contextlib.asynccontextmanager
async def s3_client(endpoint: str) -> AsyncIterator[Any]:
    """An S3 client for one task's transfers (opened only when a task has s3:// URLs)."""
    if not endpoint:
        raise S3Error(
            "s3:// URLs: this worker has no S3 service; its operator starts it with --s3-endpoint URL"
            " (https://s3.amazonaws.com for AWS S3)"
        )
    try:
        from aiobotocore.session import get_session
        from botocore.config import Config
    except ImportError:
        raise S3Error("s3:// URLs need aiobotocore on the worker: pip install 'asman[worker]'") from None
    config = Config(
        s3={
            "addressing_style": "auto"
            if (urlsplit(endpoint).hostname or "").endswith("amazonaws.com")
            else "path"
        },
        signature_version="s3v4",
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or _DEFAULT_REGION
    async with get_session().create_client(
        "s3", endpoint_url=endpoint, region_name=region, config=config
    ) as client:
        yield client


def _explain(url: str, error: Exception) -> S3Error:
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return S3Error(f"{url[:200]}: {code or error}")


async def download(client: Any, url: str, target: Path, directory: bool) -> None:
    """The object at `url` into the file `target`, or every object under it into the folder `target`."""
    bucket, key = split_s3_url(url)
    try:
        if not directory:
            await _get(client, bucket, key, target)
            return
        prefix = key.rstrip("/") + "/" if key else ""
        found = False
        async for item in _objects(client, bucket, prefix):
            # Keys are free text: only plain relative names land, never `..`, `/x` or `a//b`.
            parts = item[len(prefix) :].split("/")
            if all(part not in ("", ".", "..") for part in parts):
                found = True
                await _get(client, bucket, item, target.joinpath(*parts))
        if not found:
            raise S3Error(f"{url[:200]}: no objects under this prefix")
    except S3Error:
        raise
    except Exception as error:
        raise _explain(url, error) from None


async def _objects(client: Any, bucket: str, prefix: str) -> AsyncIterator[str]:
    paginator = client.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield str(item["Key"])


async def _get(client: Any, bucket: str, key: str, target: Path) -> None:
    response = await client.get_object(Bucket=bucket, Key=key)
    target.parent.mkdir(parents=True, exist_ok=True)
    async with response["Body"] as body:
        with target.open("wb") as handle:
            async for chunk in body.iter_chunks():
                handle.write(chunk)


async def upload(client: Any, source: Path, url: str) -> None:
    bucket, key = split_s3_url(url)
    if not key or key.endswith("/"):
        raise S3Error(f"{url[:200]} names no object key: use s3://bucket/key")
    try:
        with source.open("rb") as handle:
            await client.put_object(Bucket=bucket, Key=key, Body=handle)
    except Exception as error:
        raise _explain(url, error) from None
