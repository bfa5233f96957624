"""Local files and bytes as DataRefs (inline or uploaded), and outputs back to bytes."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from asman.client import DownloadFailed, InvalidJob
from asman.client._datarefs import (
    INLINE_LIMIT,
    collect_files,
    decode_inline,
    fetch_url,
    inline_ref,
    output_path,
    prepare_inputs,
    url_ref,
)

API = "http://asman.test"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_text_travels_as_utf8_and_binary_as_base64() -> None:
    assert inline_ref("héllo\n".encode()) == {"type": "utf8", "value": "héllo\n"}
    assert inline_ref(b"\xff\x00\x01") == {
        "type": "base64",
        "value": base64.b64encode(b"\xff\x00\x01").decode(),
    }


def test_inline_up_to_200_bytes_then_uploaded(tmp_path: Path) -> None:
    small, large = tmp_path / "small.txt", tmp_path / "large.bin"
    small.write_bytes(b"a" * INLINE_LIMIT)
    large.write_bytes(b"b" * (INLINE_LIMIT + 1))
    prepared = prepare_inputs(API + "/", [small, large])
    assert prepared.refs["small.txt"] == {"type": "utf8", "value": "a" * 200}
    key = sha(b"b" * 201)
    assert prepared.refs["large.bin"] == {"type": "url", "value": f"{API}/f/{key}", "hash": key}
    assert [(upload.name, upload.key, upload.size) for upload in prepared.uploads] == [
        ("large.bin", key, 201)
    ]
    assert b"".join(prepared.uploads[0].chunks()) == b"b" * 201


async def test_uploads_read_the_same_bytes_without_blocking(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(bytes(range(256)) * 5000)
    upload = prepare_inputs(API, [tmp_path / "big"]).uploads[0]
    chunks = [chunk async for chunk in upload.async_chunks()]
    assert len(chunks) > 1
    assert sha(b"".join(chunks)) == upload.key


def test_same_content_twice_is_uploaded_once(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / name).write_bytes(b"same" * 100)
    prepared = prepare_inputs(API, [tmp_path / "one", tmp_path / "two"], {"three": "same" * 100})
    assert len(prepared.uploads) == 1
    assert {ref["hash"] for ref in prepared.refs.values()} == {sha(b"same" * 100)}


def test_folders_keep_their_name_and_relative_paths(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    (root / "b" / "c").mkdir(parents=True)
    (root / "z.txt").write_text("z")
    (root / "b" / "c" / "deep.txt").write_text("deep")
    (tmp_path / "single.txt").write_text("s")
    found = collect_files([root, str(tmp_path / "single.txt")])
    assert list(found) == ["photos/z.txt", "photos/b/c/deep.txt", "single.txt"]
    assert found["photos/b/c/deep.txt"] == root.resolve() / "b" / "c" / "deep.txt"


def test_missing_files_say_where_relative_paths_start(tmp_path: Path) -> None:
    with pytest.raises(InvalidJob, match=r"no such file or folder: nope\.txt \(relative paths start at /"):
        collect_files(["nope.txt"])


def test_two_files_with_one_name_are_refused(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "data.csv").write_text(folder)
    with pytest.raises(InvalidJob, match=r"both be the input 'data\.csv'"):
        collect_files([tmp_path / "a" / "data.csv", tmp_path / "b" / "data.csv"])


def test_a_name_given_as_file_and_content_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(InvalidJob, match="given twice"):
        prepare_inputs(API, [tmp_path / "x.txt"], {"x.txt": "y"})


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", ""])
def test_hostile_input_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidJob):
        prepare_inputs(API, [], {name: "x"})


@pytest.mark.parametrize(
    ("ref", "data"),
    [
        ({"type": "utf8", "value": "hé"}, "hé".encode()),
        ({"type": "base64", "value": "/wA="}, b"\xff\x00"),
        ({"type": "json", "value": {"a": [1, 2]}}, b'{"a":[1,2]}'),
        ({"value": "untyped text"}, b"untyped text"),
    ],
)
def test_inline_outputs_decode(ref: dict[str, object], data: bytes) -> None:
    assert decode_inline("out", ref) == data


def test_url_outputs_are_fetched_not_decoded() -> None:
    key = "a" * 64
    assert decode_inline("out", url_ref(API, key)) is None
    assert fetch_url(API, url_ref("http://elsewhere", key)) == f"http://elsewhere/f/{key}"
    assert fetch_url(API, {"type": "key", "value": key}) == f"{API}/f/{key}"


def test_bad_outputs_are_reported() -> None:
    with pytest.raises(DownloadFailed, match="not valid base64"):
        decode_inline("x", {"type": "base64", "value": "!!"})
    with pytest.raises(DownloadFailed, match="not a DataRef"):
        decode_inline("x", "just a string")


@pytest.mark.parametrize("name", ["../../etc/cron.d/x", "/abs/path", "a/../../b"])
def test_outputs_never_land_outside_the_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(DownloadFailed, match="outside"):
        output_path(tmp_path, name)
    assert output_path(tmp_path, "d/./e.txt") == tmp_path / "d" / "e.txt"
