"""Blobs in any S3-compatible object store (AWS S3, SeaweedFS, MinIO, Ceph RGW, R2...).

URL (ASMAN_BLOB_URL)::

    s3://BUCKET[/PREFIX]?endpoint=http://127.0.0.1:8333&region=us-east-1

query options, all optional:

- `endpoint`   the S3 API base URL; leave it out for AWS S3 itself
- `public_endpoint` the S3 base URL clients and workers reach, when it differs from the one the API uses
  (e.g. `http://seaweedfs:8333` inside a cluster, `https://s3.example.org` outside): presigned URLs use it
- `region`     signing region (default `us-east-1`, or `AWS_DEFAULT_REGION`/`AWS_REGION`)
- `addressing` `path` (the default when `endpoint` is given) or `virtual` (bucket in the host name)
- `presign`    lifetime of presigned URLs, in seconds or as `1h`/`15m` (default 1 hour)
- `checksum`   `on` (default) or `off`: presigned uploads carry the blob's sha256 (see below)
- `expire_days` when set, the store installs a bucket lifecycle rule (id `asman-expiry`) that deletes
  objects under PREFIX after that many days (see `lifecycle_rule`); otherwise install it yourself

Credentials come from the standard AWS chain: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (and
`AWS_SESSION_TOKEN`), `AWS_PROFILE`/shared files, or the platform's role. Objects are stored as
`PREFIX/<key>`.

A key that is a sha256 (64 hex digits) is a content address, enforced on every path into the bucket:

- `put` (bytes through the API server) spools the body to a temp file while hashing it and uploads only once
  the sha256 matches the key, so a wrong body never reaches the bucket, not even under a temp name. The upload
  reads that file in chunks (one part at a time, for a multipart upload), so an upload holds at most about
  one part in memory whatever its size;
- `upload_url` presigns a PUT whose signature covers `x-amz-checksum-sha256`, for clients that send that
  header (base64 of the raw 32-byte digest): S3 itself refuses a body with another hash. Clients that cannot
  (curl -L, a browser's fetch) put their bytes through the server. With `checksum=off` every upload does.
Other keys (upstream's clients use `<time>-<random>-<name>`) name whatever bytes were put last.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import hashlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from asman.blobs.base import BlobLocation
from asman.core.errors import BackendUnavailable, InvalidInput, TooLarge
from asman.core.names import check_blob_key, is_content_key
from asman.core.units import parse_duration

log = logging.getLogger(__name__)

LIFECYCLE_RULE_ID = "asman-expiry"
_SPOOL_IN_MEMORY = 1024 * 1024  # bodies up to this size never touch the disk
_SINGLE_PUT_LIMIT = 64 * 1024 * 1024  # larger bodies go up as a multipart upload
_PART_SIZE = 8 * 1024 * 1024  # read into memory one at a time: what bounds an upload's memory
_MISSING = {"404", "NoSuchKey", "NotFound"}


def _sha256_b64(key: str) -> str:
    return base64.b64encode(bytes.fromhex(key)).decode()


def lifecycle_rule(prefix: str, days: int) -> dict[str, Any]:
    """The bucket lifecycle rule that expires blobs (and abandoned multipart uploads) under `prefix`."""
    return {
        "ID": LIFECYCLE_RULE_ID,
        "Status": "Enabled",
        "Filter": {"Prefix": f"{prefix}/" if prefix else ""},
        "Expiration": {"Days": days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }


class S3BlobStore:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        public_endpoint: str | None = None,
        region: str | None = None,
        addressing: str | None = None,
        presign_seconds: int = 3600,
        checksum: bool = True,
        expire_days: int | None = None,
    ) -> None:
        if len(bucket) < 3:
            raise InvalidInput(f"invalid S3 bucket name {bucket!r}: bucket names have 3 to 63 characters")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint = endpoint
        self.public_endpoint = public_endpoint
        self.region = (
            region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        )
        self.addressing = addressing or ("path" if endpoint else "auto")
        self.presign_seconds = presign_seconds
        self.checksum = checksum
        self.expire_days = expire_days
        self._client: Any = None
        self._presigner: Any = None
        self._stack: contextlib.AsyncExitStack | None = None

    @classmethod
    def from_url(cls, url: str) -> S3BlobStore:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise InvalidInput(
                f"invalid S3 URL {url!r}: use s3://bucket/prefix?endpoint=http://host:port&region=..."
            )
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        unknown = set(query) - {
            "endpoint",
            "public_endpoint",
            "region",
            "addressing",
            "presign",
            "checksum",
            "expire_days",
        }
        if unknown:
            raise InvalidInput(f"unknown S3 URL option(s) {sorted(unknown)} in ASMAN_BLOB_URL")
        addressing = query.get("addressing")
        if addressing not in (None, "path", "virtual", "auto"):
            raise InvalidInput("the S3 URL option addressing is 'path' or 'virtual'")
        try:
            presign = int(parse_duration(query.get("presign", "3600")))
        except ValueError as exc:
            raise InvalidInput(f"invalid S3 URL option presign: {exc}") from exc
        return cls(
            parts.netloc,
            parts.path,
            endpoint=query.get("endpoint") or None,
            public_endpoint=query.get("public_endpoint") or None,
            region=query.get("region") or None,
            addressing=addressing,
            presign_seconds=presign,
            checksum=query.get("checksum", "on").lower() not in ("off", "0", "false", "no"),
            expire_days=int(query["expire_days"]) if query.get("expire_days") else None,
        )

    # -- plumbing ---------------------------------------------------------------------------------------------

    @property
    def _where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" + (f" at {self.endpoint}" if self.endpoint else "")

    def _object(self, key: str) -> str:
        # check_blob_key keeps '/', '..' and control characters out of the bucket.
        check_blob_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _unavailable(self, exc: BaseException) -> BackendUnavailable:
        detail = str(exc)
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket", "404"):  # HEAD answers a bare 404
                return BackendUnavailable(
                    f"the S3 bucket {self.bucket!r} does not exist ({self._where}): create it, or fix ASMAN_BLOB_URL"
                )
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
                return BackendUnavailable(
                    f"S3 refused the request ({code}) for {self._where}: check AWS_ACCESS_KEY_ID and"
                    " AWS_SECRET_ACCESS_KEY, the bucket policy, and the region in ASMAN_BLOB_URL"
                )
        return BackendUnavailable(
            f"S3 at {self._where} is unavailable ({type(exc).__name__}: {detail}). Check that the endpoint is"
            " reachable from this replica, the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and"
            " ASMAN_BLOB_URL."
        )

    @property
    def client(self) -> Any:
        if self._client is None:
            raise BackendUnavailable("the S3 blob store is not open")
        return self._client

    async def open(self) -> None:
        config = Config(
            s3={"addressing_style": self.addressing},
            signature_version="s3v4",
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
            # Checksums only where S3 requires them: S3-compatible stores vary in what else they accept.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        stack = contextlib.AsyncExitStack()
        try:
            self._client = await stack.enter_async_context(
                get_session().create_client(
                    "s3", endpoint_url=self.endpoint, region_name=self.region, config=config
                )
            )
            self._stack = stack
            self._presigner = self._client
            if self.public_endpoint:
                # Presigning is local (no request), but the signature covers the host: sign for the public one.
                self._presigner = await stack.enter_async_context(
                    get_session().create_client(
                        "s3", endpoint_url=self.public_endpoint, region_name=self.region, config=config
                    )
                )
            await self._client.head_bucket(Bucket=self.bucket)
            if self.expire_days:
                await self.install_lifecycle(self.expire_days)
        except (BotoCoreError, ClientError, OSError) as exc:
            await self.close()
            raise self._unavailable(exc) from exc

    async def close(self) -> None:
        stack, self._stack, self._client, self._presigner = self._stack, None, None, None
        if stack is not None:
            await stack.aclose()

    async def install_lifecycle(self, days: int) -> None:
        """Add (or replace) this store's expiry rule, keeping the bucket's other rules."""
        rules: list[dict[str, Any]] = []
        try:
            current = await self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket)
            rules = [rule for rule in current.get("Rules", []) if rule.get("ID") != LIFECYCLE_RULE_ID]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
                raise
        rules.append(lifecycle_rule(self.prefix, days))
        await self.client.put_bucket_lifecycle_configuration(
            Bucket=self.bucket, LifecycleConfiguration={"Rules": rules}
        )

    # -- blobs ------------------------------------------------------------------------------------------------

    async def exists(self, key: str) -> bool:
        return await self._answered(self.client.head_object(Bucket=self.bucket, Key=self._object(key)))

    async def _answered(self, call: Awaitable[Any]) -> bool:
        """Whether `call` found its object (False: it is missing); a failing S3 is BackendUnavailable."""
        try:
            await call
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise self._unavailable(exc) from exc
        except (BotoCoreError, OSError) as exc:
            raise self._unavailable(exc) from exc

    async def touch(self, key: str, stale_before_ms: int) -> bool:
        """A stale blob is copied onto itself: that is what resets the date the sweep and a lifecycle rule go
        by (S3 has no other way to change it), done inside the object store, no bytes through this server."""
        name = self._object(key)

        async def refresh() -> None:
            head = await self.client.head_object(Bucket=self.bucket, Key=name)
            if head["LastModified"].timestamp() * 1000 < stale_before_ms:
                await self.client.copy_object(
                    Bucket=self.bucket,
                    Key=name,
                    CopySource={"Bucket": self.bucket, "Key": name},
                    MetadataDirective="REPLACE",
                    ContentType=head.get("ContentType") or "application/octet-stream",
                )

        return await self._answered(refresh())

    async def put(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int:
        name = self._object(key)
        digest = hashlib.sha256()
        size = 0
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY, prefix="asman-blob-") as spool:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"blob is over the {max_bytes} byte limit (ASMAN_MAX_BLOB_BYTES)")
                digest.update(chunk)
                spool.write(chunk)  # into memory, or the page cache once spilled: no real wait
            if is_content_key(key) and digest.hexdigest() != key:
                raise InvalidInput(
                    f"the body hashes to {digest.hexdigest()}, not to the key {key}: PUT blobs at /f/<sha256 of body>"
                )
            spool.seek(0)
            try:
                if size <= _SINGLE_PUT_LIMIT:
                    # The file itself, not its bytes: the client reads it in chunks as it signs and sends.
                    await self.client.put_object(
                        Bucket=self.bucket,
                        Key=name,
                        Body=spool,
                        ContentLength=size,
                        ChecksumSHA256=_sha256_b64(digest.hexdigest()),
                        ContentType="application/octet-stream",
                    )
                else:
                    await self._multipart(name, spool)
            except (BotoCoreError, ClientError, OSError) as exc:
                raise self._unavailable(exc) from exc
        return size

    async def _multipart(self, name: str, spool: IO[bytes]) -> None:
        upload = await self.client.create_multipart_upload(
            Bucket=self.bucket, Key=name, ContentType="application/octet-stream"
        )
        upload_id = upload["UploadId"]
        try:
            parts = []
            number = 1
            while True:
                data = await asyncio.to_thread(spool.read, _PART_SIZE)
                if not data:
                    break
                part = await self.client.upload_part(
                    Bucket=self.bucket, Key=name, UploadId=upload_id, PartNumber=number, Body=data
                )
                parts.append({"PartNumber": number, "ETag": part["ETag"]})
                number += 1
            await self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=name, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await self.client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
            raise

    async def _presign(self, operation: str, params: dict[str, Any]) -> str:
        if self._presigner is None:
            raise BackendUnavailable("the S3 blob store is not open")
        url: str = await self._presigner.generate_presigned_url(
            operation, Params=params, ExpiresIn=self.presign_seconds
        )
        return url

    async def upload_url(self, key: str) -> str | None:
        """A presigned PUT for clients that can send the checksum header with their bytes; the others (curl -L,
        a browser's fetch) cannot, and put their bytes through the server, which hashes them on the way."""
        if not (self.checksum and is_content_key(key)):
            return None
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self._object(key),
            "ChecksumSHA256": _sha256_b64(key),
        }
        return await self._presign("put_object", params)

    async def locate(self, key: str) -> BlobLocation | None:
        if not await self.exists(key):
            return None
        return BlobLocation(
            url=await self._presign("get_object", {"Bucket": self.bucket, "Key": self._object(key)})
        )

    async def read(self, key: str) -> bytes | None:
        name = self._object(key)
        try:
            response = await self.client.get_object(Bucket=self.bucket, Key=name)
            async with response["Body"] as body:
                data: bytes = await body.read()
            return data
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise self._unavailable(exc) from exc
        except (BotoCoreError, OSError) as exc:
            raise self._unavailable(exc) from exc

    async def sweep(self, older_than_ms: int) -> int:
        """Delete blobs last written before the cutoff (the lifecycle rule does the same inside S3)."""
        cutoff = datetime.datetime.fromtimestamp(older_than_ms / 1000, tz=datetime.UTC)
        removed = 0
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            async for page in paginator.paginate(
                Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""
            ):
                old = [
                    {"Key": item["Key"]} for item in page.get("Contents", []) if item["LastModified"] < cutoff
                ]
                for start in range(0, len(old), 1000):
                    batch = old[start : start + 1000]
                    response = await self.client.delete_objects(
                        Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                    )
                    removed += len(batch) - len(response.get("Errors", []))
        except (BotoCoreError, ClientError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return removed
