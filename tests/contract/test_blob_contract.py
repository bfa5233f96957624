"""One contract for every blob store: the filesystem (embedded default) and S3 (SeaweedFS here)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from asman.blobs import BlobStore, open_blobs
from asman.blobs.s3 import LIFECYCLE_RULE_ID, S3BlobStore
from asman.core.errors import BackendUnavailable, InvalidInput, TooLarge
from tests.support.services import S3Server


def key_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def chunked(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture(params=["fs", "s3"])
def blob_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "fs":
        return str(tmp_path / "blobs")
    url: str = request.getfixturevalue("s3_url")
    return url


@pytest.fixture
async def blobs(blob_url: str) -> AsyncIterator[BlobStore]:
    store = open_blobs(blob_url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def fetch(store: BlobStore, key: str) -> bytes:
    """The bytes a client gets for a key: the file itself, or what its (presigned) URL serves."""
    location = await store.locate(key)
    assert location is not None
    if location.path is not None:
        return location.path.read_bytes()
    assert location.url is not None
    async with httpx.AsyncClient() as client:
        response = await client.get(location.url)
    assert response.status_code == 200, response.text
    return response.content


async def test_ten_megabytes_round_trip(blobs: BlobStore) -> None:
    data = os.urandom(10 * 1024 * 1024 + 17)
    key = key_of(data)
    assert not await blobs.exists(key)
    assert await blobs.put(key, chunked(data), 64 * 1024 * 1024) == len(data)
    assert await blobs.exists(key)
    assert await blobs.read(key) == data
    assert await fetch(blobs, key) == data
    # Storing the same bytes again is harmless.
    assert await blobs.put(key, chunked(data, 1024 * 1024), 64 * 1024 * 1024) == len(data)
    assert await blobs.read(key) == data


async def test_empty_blob(blobs: BlobStore) -> None:
    key = key_of(b"")
    assert await blobs.put(key, chunked(b""), 10) == 0
    assert await blobs.read(key) == b""


async def test_a_body_that_does_not_hash_to_the_key_is_refused(blobs: BlobStore) -> None:
    key = key_of(b"the real content")
    with pytest.raises(InvalidInput, match="hashes to"):
        await blobs.put(key, chunked(b"something else"), 1024)
    assert not await blobs.exists(key)
    assert await blobs.read(key) is None
    assert await blobs.locate(key) is None


async def test_a_body_over_the_limit_is_refused(blobs: BlobStore) -> None:
    data = b"x" * 5000
    with pytest.raises(TooLarge):
        await blobs.put(key_of(data), chunked(data, 1000), 4096)
    assert not await blobs.exists(key_of(data))


async def test_unknown_keys(blobs: BlobStore) -> None:
    key = key_of(b"never stored")
    assert not await blobs.exists(key)
    assert await blobs.read(key) is None
    assert await blobs.locate(key) is None


HOSTILE_KEYS = [
    "",
    ".",
    "..",
    "../../etc/passwd",
    "/etc/passwd",
    "a" * 62 + "/a",
    "a" * 64 + "/../x",
    "a\\b",
    "a" * 63 + "\x00",
    "a" * 64 + "\n",
    "k" * 256,
]


async def test_any_single_segment_names_a_blob(blobs: BlobStore) -> None:
    """Upstream's clients store blobs under names that are not hashes: `<time>-<random>-<name>`, `<sha>.tar.gz`."""
    for key in ("1764590000000-k3x9q2-data.csv", "d" * 64 + ".tar.gz", "0123abcd", "A" * 64, "with space"):
        data = key.encode() * 3
        assert not await blobs.exists(key)
        assert await blobs.put(key, chunked(data), 1000) == len(data)
        assert await blobs.exists(key) and await blobs.read(key) == data
        # A name is not a content address: it names whatever was put there last.
        assert await blobs.put(key, chunked(b"newer"), 1000) == 5
        assert await blobs.read(key) == b"newer"
        assert await blobs.upload_url(key) is None  # no presigned PUT: there is no hash for S3 to check


@pytest.mark.parametrize("key", HOSTILE_KEYS, ids=[repr(key)[:20] for key in HOSTILE_KEYS])
async def test_hostile_keys_are_refused(blobs: BlobStore, key: str, request: pytest.FixtureRequest) -> None:
    with pytest.raises(InvalidInput):
        await blobs.exists(key)
    with pytest.raises(InvalidInput):
        await blobs.put(key, chunked(b"x"), 10)
    with pytest.raises(InvalidInput):
        await blobs.read(key)
    with pytest.raises(InvalidInput):
        await blobs.locate(key)
    with contextlib.suppress(InvalidInput):  # a store without direct uploads may answer None for any key
        assert await blobs.upload_url(key) is None


async def test_sweep_removes_blobs_older_than_the_cutoff(blobs: BlobStore) -> None:
    first, second = b"first blob", b"second blob"
    await blobs.put(key_of(first), chunked(first), 100)
    await blobs.put(key_of(second), chunked(second), 100)
    now_ms = int(time.time() * 1000)
    assert await blobs.sweep(now_ms - 60_000) == 0
    assert await blobs.exists(key_of(first))
    assert await blobs.sweep(now_ms + 5_000) == 2
    assert not await blobs.exists(key_of(first))
    assert not await blobs.exists(key_of(second))
    assert await blobs.sweep(now_ms + 5_000) == 0


async def test_a_touched_blob_outlives_the_sweep_of_its_age(blobs: BlobStore) -> None:
    used, unused = b"a blob still in use", b"a blob nobody uses"
    await blobs.put(key_of(used), chunked(used), 100)
    await blobs.put(key_of(unused), chunked(unused), 100)
    await asyncio.sleep(1.2)  # S3 keeps the time of a write to the second
    since = int(time.time() * 1000)
    assert await blobs.touch(key_of(used), since - 60_000)  # kept recently enough: left alone
    assert await blobs.touch(key_of(used), since)  # stale: kept for a lifetime from now
    assert not await blobs.touch(key_of(b"never stored"), since)
    assert await blobs.sweep(since - 1_000) == 1  # S3 times are whole seconds
    assert await blobs.exists(key_of(used)) and not await blobs.exists(key_of(unused))
    assert await blobs.read(key_of(used)) == used


# -- S3 specifics ---------------------------------------------------------------------------------------------


@pytest.fixture
async def s3(s3_url: str) -> AsyncIterator[S3BlobStore]:
    store = S3BlobStore.from_url(s3_url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def test_fs_store_has_no_direct_upload_url(tmp_path: Path) -> None:
    store = open_blobs(str(tmp_path / "blobs"))
    await store.open()
    assert await store.upload_url(key_of(b"x")) is None


async def test_presigned_put_needs_the_checksum_header_and_a_matching_body(s3: S3BlobStore) -> None:
    data = os.urandom(300_000)
    key = key_of(data)
    url = await s3.upload_url(key)
    assert url is not None and url.startswith(s3.endpoint or "") and "X-Amz-Signature" in url
    header = {"x-amz-checksum-sha256": base64.b64encode(bytes.fromhex(key)).decode()}
    async with httpx.AsyncClient() as client:
        assert (await client.put(url, content=b"evil bytes", headers=header)).status_code >= 400
        assert (await client.put(url, content=data)).status_code == 403  # header missing: signature fails
        assert not await s3.exists(key)
        assert (await client.put(url, content=data, headers=header)).status_code == 200
    assert await s3.exists(key)
    assert await s3.read(key) == data


async def test_no_presigned_put_without_checksums(s3_url: str) -> None:
    """With checksum=off every upload goes through the server, which hashes it: none skips the check."""
    store = S3BlobStore.from_url(s3_url + "&checksum=off&presign=10m")
    assert store.presign_seconds == 600
    await store.open()
    try:
        data = b"legacy client bytes"
        assert await store.upload_url(key_of(data)) is None
        assert await store.put(key_of(data), chunked(data), 100) == len(data)
        assert await store.read(key_of(data)) == data
    finally:
        await store.close()


async def test_presigned_get_url_expires_and_is_signed(s3: S3BlobStore, s3_server: S3Server) -> None:
    data = b"presigned get"
    await s3.put(key_of(data), chunked(data), 100)
    location = await s3.locate(key_of(data))
    assert location is not None and location.url is not None and location.path is None
    assert "X-Amz-Expires=3600" in location.url
    async with httpx.AsyncClient() as client:
        plain = f"{s3_server.endpoint}/{s3.bucket}/{s3.prefix}/{key_of(data)}"
        assert (await client.get(plain)).status_code == 403  # the bucket is private: only signed URLs work


async def test_multipart_upload_of_a_large_blob(s3: S3BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import asman.blobs.s3 as s3_module

    monkeypatch.setattr(s3_module, "_SINGLE_PUT_LIMIT", 6 * 1024 * 1024)
    monkeypatch.setattr(s3_module, "_PART_SIZE", 5 * 1024 * 1024)
    data = os.urandom(12 * 1024 * 1024 + 3)
    assert await s3.put(key_of(data), chunked(data), len(data)) == len(data)
    assert await s3.read(key_of(data)) == data


async def test_lifecycle_rule_is_installed_and_other_rules_kept(s3_url: str, s3_server: S3Server) -> None:
    store = S3BlobStore.from_url(s3_url + "&expire_days=7")
    client = s3_server.client()
    try:
        other = {
            "ID": "keep-me",
            "Status": "Enabled",
            "Filter": {"Prefix": "other/"},
            "Expiration": {"Days": 90},
        }
        client.put_bucket_lifecycle_configuration(
            Bucket=store.bucket, LifecycleConfiguration={"Rules": [other]}
        )
        await store.open()
        await store.close()
        await store.open()  # a second replica installs the same rule again: still one rule of ours
        await store.close()
        rules = client.get_bucket_lifecycle_configuration(Bucket=store.bucket)["Rules"]
    finally:
        client.close()
    ours = [rule for rule in rules if rule["ID"] == LIFECYCLE_RULE_ID]
    assert len(ours) == 1
    assert ours[0]["Expiration"] == {"Days": 7}
    assert ours[0]["Filter"] == {"Prefix": f"{store.prefix}/"}
    assert any(rule["ID"] == "keep-me" for rule in rules)


async def test_s3_failures_are_backend_unavailable(
    s3_server: S3Server, s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.server import free_port

    missing = S3BlobStore.from_url(s3_server.url("no-such-bucket-here"))
    with pytest.raises(BackendUnavailable, match="does not exist"):
        await missing.open()
    unreachable = S3BlobStore.from_url(f"s3://bucket/x?endpoint=http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendUnavailable, match="Check that the endpoint"):
        await unreachable.open()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    wrong = S3BlobStore.from_url(s3_url)
    with pytest.raises(BackendUnavailable, match="AWS_SECRET_ACCESS_KEY"):
        await wrong.open()
    closed = S3BlobStore.from_url(s3_url)
    with pytest.raises(BackendUnavailable):
        await closed.exists(key_of(b"x"))


def test_s3_url_options() -> None:
    store = S3BlobStore.from_url(
        "s3://my-bucket/some/prefix/?endpoint=http://127.0.0.1:9000&region=eu-west-1"
    )
    assert (store.bucket, store.prefix, store.endpoint, store.region, store.addressing) == (
        "my-bucket",
        "some/prefix",
        "http://127.0.0.1:9000",
        "eu-west-1",
        "path",
    )
    assert store.checksum and store.presign_seconds == 3600 and store.expire_days is None
    aws = S3BlobStore.from_url(
        "s3://my-bucket?region=us-west-2&addressing=virtual&presign=900&expire_days=30"
    )
    assert (aws.prefix, aws.endpoint, aws.addressing, aws.presign_seconds, aws.expire_days) == (
        "",
        None,
        "virtual",
        900,
        30,
    )
    assert aws._object(key_of(b"x")) == key_of(b"x")
    assert store._object(key_of(b"x")) == f"some/prefix/{key_of(b'x')}"
    for bad in (
        "s3://ab/x",
        "s3:///x",
        "s3://bucket/x?unknown=1",
        "s3://bucket?addressing=sideways",
        "s3://bucket?presign=soon",
    ):
        with pytest.raises(InvalidInput):
            S3BlobStore.from_url(bad)


async def test_presigned_urls_use_the_public_endpoint(s3_url: str, s3_server: S3Server) -> None:
    public = f"http://localhost:{s3_server.port}"  # another name for the same server, as a client sees it
    store = S3BlobStore.from_url(f"{s3_url}&public_endpoint={public}")
    await store.open()
    try:
        data = b"through the public name"
        key = key_of(data)
        upload = await store.upload_url(key)
        assert upload is not None and upload.startswith(f"{public}/")
        header = {"x-amz-checksum-sha256": base64.b64encode(bytes.fromhex(key)).decode()}
        async with httpx.AsyncClient() as client:
            assert (await client.put(upload, content=data, headers=header)).status_code == 200
        location = await store.locate(key)
        assert location is not None and location.url is not None and location.url.startswith(f"{public}/")
        assert await fetch(store, key) == data
    finally:
        await store.close()
